"""Every action of the generated client, end to end through engine/ on a real SQLite file."""

from __future__ import annotations

from typing import Any

import pytest

from engine_test_client import Prisma
from engine_test_client.errors import RecordNotFoundError, UniqueViolationError
from engine_test_client.models import Post

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def seed_blog(client: Prisma) -> dict[str, Any]:
    """Three authors, seven posts with known views, two categories."""
    ada = await client.user.create(data={"email": "ada@example.com", "name": "Ada"})
    bob = await client.user.create(data={"email": "bob@example.com", "name": "Bob"})
    cy = await client.user.create(data={"email": "cy@example.com"})
    news = await client.category.create(data={"name": "news"})
    tech = await client.category.create(data={"name": "tech"})
    posts = {}
    for author, slug, views, published in [
        (ada, "a1", 10, True),
        (ada, "a2", 20, False),
        (ada, "a3", 30, True),
        (bob, "b1", 5, True),
        (bob, "b2", 15, True),
        (cy, "c1", 1, False),
        (cy, "c2", 2, False),
    ]:
        posts[slug] = await client.post.create(
            data={
                "slug": slug,
                "title": f"Title {slug}",
                "views": views,
                "published": published,
                "author": {"connect": {"id": author.id}},
                "categories": {"connect": [{"id": news.id}, {"id": tech.id}] if slug.startswith("a") else [{"id": news.id}]},
            }
        )
    return {"ada": ada, "bob": bob, "cy": cy, "news": news, "tech": tech, "posts": posts}


# --- reads -----------------------------------------------------------------------------------


async def test_find_unique_by_id_and_by_unique_field(client: Prisma) -> None:
    data = await seed_blog(client)
    by_id = await client.user.find_unique(where={"id": data["bob"].id})
    by_email = await client.user.find_unique(where={"email": "bob@example.com"})
    assert by_id is not None and by_email is not None
    assert by_id.id == by_email.id == data["bob"].id
    assert by_id.name == "Bob"
    assert await client.user.find_unique(where={"email": "nobody@example.com"}) is None


async def test_find_unique_by_compound_unique(client: Prisma) -> None:
    data = await seed_blog(client)
    post = await client.post.find_unique(
        where={"authorId_slug": {"authorId": data["ada"].id, "slug": "a2"}}
    )
    assert post is not None
    assert post.id == data["posts"]["a2"].id
    missing = await client.post.find_unique(where={"authorId_slug": {"authorId": data["bob"].id, "slug": "a2"}})
    assert missing is None


async def test_find_unique_by_compound_id(client: Prisma) -> None:
    user = await client.user.create(data={"email": "m@example.com"})
    team = await client.team.create(data={"name": "red"})
    await client.membership.create(data={"user": {"connect": {"id": user.id}}, "team": {"connect": {"id": team.id}}, "role": "lead"})
    found = await client.membership.find_unique(where={"userId_teamId": {"userId": user.id, "teamId": team.id}})
    assert found is not None
    assert found.role == "lead"


async def test_find_unique_or_raise(client: Prisma) -> None:
    data = await seed_blog(client)
    found = await client.user.find_unique_or_raise(where={"id": data["cy"].id})
    assert found.email == "cy@example.com"
    with pytest.raises(RecordNotFoundError):
        await client.user.find_unique_or_raise(where={"email": "nobody@example.com"})


async def test_find_first_with_filters_order_and_skip(client: Prisma) -> None:
    await seed_blog(client)
    most_viewed_published = await client.post.find_first(where={"published": True}, order={"views": "desc"})
    assert most_viewed_published is not None and most_viewed_published.slug == "a3"
    second = await client.post.find_first(where={"published": True}, order={"views": "desc"}, skip=1)
    assert second is not None and second.slug == "b2"
    assert await client.post.find_first(where={"views": {"gt": 1000}}) is None


async def test_find_first_or_raise(client: Prisma) -> None:
    await seed_blog(client)
    post = await client.post.find_first_or_raise(where={"title": {"contains": "c2"}})
    assert post.slug == "c2"
    with pytest.raises(RecordNotFoundError):
        await client.post.find_first_or_raise(where={"title": "no such title"})


async def test_find_many_where_operators(client: Prisma) -> None:
    data = await seed_blog(client)
    def slugs(posts: list[Post]) -> list[str]:
        return sorted(p.slug for p in posts)

    assert slugs(await client.post.find_many(where={"views": {"gte": 15, "lt": 30}})) == ["a2", "b2"]
    assert slugs(await client.post.find_many(where={"slug": {"in": ["a1", "c2", "zz"]}})) == ["a1", "c2"]
    assert slugs(await client.post.find_many(where={"slug": {"not_in": ["a1", "a2", "a3", "b1"]}})) == ["b2", "c1", "c2"]
    assert slugs(await client.post.find_many(where={"title": {"startswith": "Title b"}})) == ["b1", "b2"]
    assert slugs(await client.post.find_many(where={"title": {"endswith": "1"}})) == ["a1", "b1", "c1"]
    assert slugs(
        await client.post.find_many(where={"OR": [{"views": {"lt": 2}}, {"views": {"gt": 25}}]})
    ) == ["a3", "c1"]
    assert slugs(
        # NOT as a single filter (Prisma takes one or a list; the generated type says list only)
        await client.post.find_many(where={"AND": [{"published": True}, {"NOT": {"author": {"is": {"name": "Ada"}}}}]})  # type: ignore[arg-type]
    ) == ["b1", "b2"]
    # relation filters
    assert slugs(await client.post.find_many(where={"categories": {"some": {"name": "tech"}}})) == ["a1", "a2", "a3"]
    authors = await client.user.find_many(where={"posts": {"every": {"published": True}}}, order={"email": "asc"})
    assert [u.email for u in authors] == ["bob@example.com"]
    no_posts = await client.user.find_many(where={"posts": {"none": {}}})
    assert no_posts == []
    # null checks on an optional field
    nameless = await client.user.find_many(where={"name": None})
    assert [u.id for u in nameless] == [data["cy"].id]


async def test_find_many_order_take_skip(client: Prisma) -> None:
    await seed_blog(client)
    page = await client.post.find_many(order={"views": "asc"}, take=3, skip=2)
    assert [p.views for p in page] == [5, 10, 15]
    by_author_then_views = await client.post.find_many(order=[{"authorId": "desc"}, {"views": "desc"}])
    assert [p.slug for p in by_author_then_views] == ["c2", "c1", "b2", "b1", "a3", "a2", "a1"]
    # negative take reads backwards from the end
    last_two = await client.post.find_many(order={"views": "asc"}, take=-2)
    assert [p.views for p in last_two] == [20, 30]


async def test_find_many_cursor_pagination(client: Prisma) -> None:
    data = await seed_blog(client)
    ordered = await client.post.find_many(order={"id": "asc"})
    cursor_post = data["posts"]["a3"]
    index = [p.id for p in ordered].index(cursor_post.id)
    page = await client.post.find_many(cursor={"id": cursor_post.id}, take=2, order={"id": "asc"})
    assert [p.id for p in page] == [p.id for p in ordered[index : index + 2]]
    after = await client.post.find_many(cursor={"id": cursor_post.id}, skip=1, take=10, order={"id": "asc"})
    assert [p.id for p in after] == [p.id for p in ordered[index + 1 :]]


async def test_find_many_distinct(client: Prisma) -> None:
    await seed_blog(client)
    distinct_authors = await client.post.find_many(distinct=["authorId"], order={"authorId": "asc"})
    assert len(distinct_authors) == 3
    assert len({p.authorId for p in distinct_authors}) == 3
    distinct_pairs = await client.post.find_many(distinct=["authorId", "published"])
    assert sorted((p.authorId, p.published) for p in distinct_pairs) == sorted(
        {(p.authorId, p.published) for p in await client.post.find_many()}
    )


async def test_include_nested_with_arguments(client: Prisma) -> None:
    data = await seed_blog(client)
    await client.profile.create(data={"bio": "math", "user": {"connect": {"id": data["ada"].id}}})
    ada = await client.user.find_unique(
        where={"id": data["ada"].id},
        include={
            "profile": True,
            "posts": {
                "where": {"published": True},
                "order_by": {"views": "desc"},
                "take": 1,
                "include": {"categories": {"order_by": {"name": "asc"}}, "author": True},
            },
        },
    )
    assert ada is not None
    assert ada.profile is not None and ada.profile.bio == "math"
    assert ada.posts is not None and [p.slug for p in ada.posts] == ["a3"]
    top = ada.posts[0]
    assert top.categories is not None and [c.name for c in top.categories] == ["news", "tech"]
    assert top.author is not None and top.author.email == "ada@example.com"

    # relations not included are not loaded
    plain = await client.user.find_unique(where={"id": data["ada"].id})
    assert plain is not None and plain.posts is None and plain.profile is None

    # include on find_many, and the other side of the many-to-many
    categories = await client.category.find_many(
        order={"name": "asc"}, include={"posts": {"where": {"views": {"lt": 10}}, "order_by": {"views": "asc"}}}
    )
    assert [(c.name, [p.slug for p in c.posts or []]) for c in categories] == [("news", ["c1", "c2", "b1"]), ("tech", [])]


async def test_self_relations(client: Prisma) -> None:
    inviter = await client.user.create(data={"email": "inviter@example.com"})
    guest = await client.user.create(
        data={
            "email": "guest@example.com",
            "invitedBy": {"connect": {"id": inviter.id}},
            "following": {"connect": [{"id": inviter.id}]},
        }
    )
    loaded = await client.user.find_unique(
        where={"id": inviter.id}, include={"invitees": True, "followers": True, "following": True}
    )
    assert loaded is not None
    assert [u.id for u in loaded.invitees or []] == [guest.id]
    assert [u.id for u in loaded.followers or []] == [guest.id]
    assert loaded.following == []
    # onDelete: SetNull
    await client.user.delete(where={"id": inviter.id})
    after = await client.user.find_unique(where={"id": guest.id}, include={"following": True})
    assert after is not None
    assert after.invitedById is None
    assert after.following == []


# --- writes ----------------------------------------------------------------------------------


async def test_create_with_nested_writes(client: Prisma) -> None:
    user = await client.user.create(
        data={
            "email": "nested@example.com",
            "profile": {"create": {"bio": "hi"}},
            "posts": {
                "create": [
                    # a relation two levels down: the engine takes it, prisma-client-py's generated
                    # types stop relations at the first level of nesting
                    {"slug": "one", "title": "One", "categories": {"create": [{"name": "c-one"}]}},  # type: ignore[typeddict-unknown-key]
                    {"slug": "two", "title": "Two"},
                ]
            },
        },
        include={"profile": True, "posts": {"include": {"categories": True}, "order_by": {"slug": "asc"}}},
    )
    assert user.profile is not None and user.profile.bio == "hi" and user.profile.userId == user.id
    assert [p.slug for p in user.posts or []] == ["one", "two"]
    assert [c.name for c in (user.posts or [])[0].categories or []] == ["c-one"]
    assert await client.post.count() == 2
    assert await client.category.count() == 1


async def test_create_many(client: Prisma) -> None:
    count = await client.user.create_many(data=[{"email": f"bulk{i}@example.com", "name": f"n{i}"} for i in range(250)])
    assert count == 250
    users = await client.user.find_many(order={"id": "asc"})
    assert [u.email for u in users] == [f"bulk{i}@example.com" for i in range(250)]
    with pytest.raises(UniqueViolationError):
        await client.user.create_many(data=[{"email": "new@example.com"}, {"email": "bulk3@example.com"}])
    # the failing statement wrote nothing
    assert await client.user.count() == 250
    assert await client.user.find_unique(where={"email": "new@example.com"}) is None


async def test_update(client: Prisma) -> None:
    data = await seed_blog(client)
    updated = await client.post.update(
        where={"id": data["posts"]["a1"].id},
        data={"title": "New", "views": {"increment": 5}, "categories": {"disconnect": [{"id": data["tech"].id}]}},
        include={"categories": True},
    )
    assert updated is not None
    assert updated.title == "New" and updated.views == 15
    assert [c.name for c in updated.categories or []] == ["news"]
    multiplied = await client.post.update(where={"id": data["posts"]["a1"].id}, data={"views": {"multiply": 3}})
    assert multiplied is not None and multiplied.views == 45
    # the client returns None when the record does not exist
    assert await client.post.update(where={"id": 10**9}, data={"title": "x"}) is None


async def test_update_many(client: Prisma) -> None:
    await seed_blog(client)
    changed = await client.post.update_many(where={"published": False}, data={"published": True, "views": 0})
    assert changed == 3
    assert await client.post.count(where={"published": False}) == 0
    assert await client.post.count(where={"views": 0}) == 3
    assert await client.post.update_many(where={"slug": "none"}, data={"views": 1}) == 0


async def test_upsert(client: Prisma) -> None:
    created = await client.user.upsert(
        where={"email": "up@example.com"},
        data={"create": {"email": "up@example.com", "name": "first"}, "update": {"name": "second"}},
    )
    assert created.name == "first"
    updated = await client.user.upsert(
        where={"email": "up@example.com"},
        data={"create": {"email": "up@example.com", "name": "first"}, "update": {"name": "second"}},
    )
    assert updated.id == created.id
    assert updated.name == "second"
    assert await client.user.count() == 1


async def test_delete(client: Prisma) -> None:
    data = await seed_blog(client)
    deleted = await client.post.delete(where={"id": data["posts"]["c1"].id}, include={"author": True})
    assert deleted is not None
    assert deleted.slug == "c1" and deleted.author is not None and deleted.author.email == "cy@example.com"
    assert await client.post.find_unique(where={"id": data["posts"]["c1"].id}) is None
    # the client returns None when the record does not exist
    assert await client.post.delete(where={"id": data["posts"]["c1"].id}) is None


async def test_delete_cascades(client: Prisma) -> None:
    user = await client.user.create(data={"email": "c@example.com", "profile": {"create": {"bio": "b"}}})
    # a relation inside a nested create: valid for the engine, beyond the generated types' one level
    team = await client.team.create(
        data={"name": "t", "memberships": {"create": [{"user": {"connect": {"id": user.id}}}]}}  # type: ignore[typeddict-unknown-key]
    )
    assert await client.membership.count() == 1
    await client.team.delete(where={"id": team.id})
    assert await client.membership.count() == 0
    await client.user.delete(where={"id": user.id})
    assert await client.profile.count() == 0


async def test_delete_many(client: Prisma) -> None:
    await seed_blog(client)
    assert await client.post.delete_many(where={"views": {"lt": 10}}) == 3
    assert sorted(p.slug for p in await client.post.find_many()) == ["a1", "a2", "a3", "b2"]
    assert await client.post.delete_many() == 4
    assert await client.post.count() == 0


# --- aggregates ------------------------------------------------------------------------------


async def test_count(client: Prisma) -> None:
    await seed_blog(client)
    assert await client.post.count() == 7
    assert await client.post.count(where={"published": True}) == 4
    assert await client.post.count(take=2) == 2
    assert await client.post.count(skip=5) == 2
    assert await client.user.count(select={"_all": True, "name": True}) == {"_all": 3, "name": 2}


async def test_group_by(client: Prisma) -> None:
    data = await seed_blog(client)
    groups = await client.post.group_by(
        by=["authorId"],
        count=True,
        sum={"views": True},
        avg={"views": True},
        min={"views": True},
        max={"views": True},
        order={"authorId": "asc"},
    )
    assert [g["authorId"] for g in groups] == [data["ada"].id, data["bob"].id, data["cy"].id]
    ada, bob, cy = groups
    assert ada["_count"] == {"_all": 3}
    assert ada["_sum"] == {"views": 60}
    assert ada["_avg"] == {"views": 20.0}
    assert ada["_min"] == {"views": 10} and ada["_max"] == {"views": 30}
    assert bob["_sum"] == {"views": 20} and bob["_avg"] == {"views": 10.0}
    assert cy["_min"] == {"views": 1} and cy["_max"] == {"views": 2}

    filtered = await client.post.group_by(
        by=["published"], where={"views": {"gt": 1}}, having={"views": {"_sum": {"gt": 30}}}, sum={"views": True},
        order={"published": "asc"},
    )
    # published=False: a2(20)+c2(2) = 22 (c1 excluded by where), not > 30; published=True: 10+30+5+15 = 60
    assert [(g["published"], g["_sum"]["views"]) for g in filtered] == [(True, 60)]


async def test_group_by_count_of_fields(client: Prisma) -> None:
    await seed_blog(client)
    groups = await client.user.group_by(by=["name"], count={"_all": True, "name": True}, order={"name": "asc"})
    counts = {g["name"]: g["_count"] for g in groups}
    assert counts == {None: {"_all": 1, "name": 0}, "Ada": {"_all": 1, "name": 1}, "Bob": {"_all": 1, "name": 1}}


# --- raw queries ----------------------------------------------------------------------------


async def test_query_raw_with_parameters(client: Prisma) -> None:
    data = await seed_blog(client)
    rows = await client.query_raw(
        'SELECT slug, views FROM posts WHERE author_id = ? AND views >= ? ORDER BY views', data["ada"].id, 20
    )
    assert rows == [{"slug": "a2", "views": 20}, {"slug": "a3", "views": 30}]
    # a parameter is data, never SQL
    hostile = "x'); DROP TABLE posts; --"
    assert await client.query_raw("SELECT slug FROM posts WHERE slug = ?", hostile) == []
    assert await client.post.count() == 7


async def test_query_raw_into_model(client: Prisma) -> None:
    from engine_test_client.models import User

    await seed_blog(client)
    users = await client.query_raw('SELECT * FROM "User" ORDER BY email', model=User)
    assert [u.email for u in users] == ["ada@example.com", "bob@example.com", "cy@example.com"]
    assert all(isinstance(u, User) for u in users)
    assert users[0].createdAt.tzinfo is not None


async def test_query_first(client: Prisma) -> None:
    await seed_blog(client)
    row = await client.query_first("SELECT count(*) AS n, sum(views) AS total FROM posts")
    assert row == {"n": 7, "total": 83}
    assert await client.query_first("SELECT slug FROM posts WHERE views > ?", 1000) is None


async def test_execute_raw(client: Prisma) -> None:
    await seed_blog(client)
    changed = await client.execute_raw("UPDATE posts SET views = views + ? WHERE published = ?", 100, True)
    assert changed == 4
    assert await client.post.count(where={"views": {"gte": 100}}) == 4
    assert await client.execute_raw("DELETE FROM posts WHERE slug = ?", "nope") == 0


# --- batches ---------------------------------------------------------------------------------


async def test_batch(client: Prisma) -> None:
    user = await client.user.create(data={"email": "batch@example.com"})
    async with client.batch_() as batcher:
        batcher.post.create(data={"slug": "p1", "title": "P1", "authorId": user.id})
        batcher.post.create(data={"slug": "p2", "title": "P2", "authorId": user.id})
        batcher.post.update_many(where={"slug": "p1"}, data={"views": 7})
        batcher.user.update(where={"id": user.id}, data={"name": "batched"})
        batcher.category.create_many(data=[{"name": "x"}, {"name": "y"}])
        batcher.execute_raw("UPDATE posts SET title = ? WHERE slug = ?", "P2!", "p2")
    posts = await client.post.find_many(order={"slug": "asc"})
    assert [(p.slug, p.title, p.views) for p in posts] == [("p1", "P1", 7), ("p2", "P2!", 0)]
    refreshed = await client.user.find_unique(where={"id": user.id})
    assert refreshed is not None and refreshed.name == "batched"
    assert await client.category.count() == 2


async def test_batch_is_all_or_nothing(client: Prisma) -> None:
    user = await client.user.create(data={"email": "batch@example.com"})
    with pytest.raises(UniqueViolationError):
        async with client.batch_() as batcher:
            batcher.post.create(data={"slug": "ok", "title": "ok", "authorId": user.id})
            batcher.user.update(where={"id": user.id}, data={"name": "changed"})
            batcher.user.create(data={"email": "batch@example.com"})  # duplicate
    assert await client.post.count() == 0
    unchanged = await client.user.find_unique(where={"id": user.id})
    assert unchanged is not None and unchanged.name is None


async def test_mapped_table_and_columns(client: Prisma) -> None:
    """@map/@@map: the client uses the field names, the table has the mapped names."""
    user = await client.user.create(data={"email": "map@example.com"})
    post = await client.post.create(data={"slug": "m", "title": "M", "authorId": user.id})
    row = await client.query_first(
        "SELECT author_id, created_at IS NOT NULL AS has_created FROM posts WHERE id = ?", post.id
    )
    assert row == {"author_id": user.id, "has_created": 1}
