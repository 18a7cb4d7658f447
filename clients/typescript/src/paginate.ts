/** One page of a list answer: `{items, nextCursor}` (nextCursor null on the last page). */
export interface Page<Item> {
  readonly items: readonly Item[];
  readonly nextCursor?: string | null;
}

/**
 * What to add to a list's query for the page wanted: nothing for the first page, `{cursor}` after.
 * Spread into the query (`query: { garageId, ...page }`), it leaves `cursor` out rather than
 * sending it empty.
 */
export interface PageRequest {
  readonly cursor?: string;
}

/**
 * Every item of a paged list, page after page, following `nextCursor`. `fetchPage` gets the page
 * to ask for and returns it; pages are fetched only as the loop asks for items, so breaking out of
 * the loop stops fetching.
 *
 *     for await (const session of paginate((page) =>
 *       garage.GET('/api/v1/sessions', { params: { query: { garageId, limit: 200, ...page } } }),
 *     )) { ... }
 */
export async function* paginate<Item>(
  fetchPage: (page: PageRequest) => Promise<Page<Item>>,
): AsyncGenerator<Item, void, undefined> {
  let request: PageRequest = {};
  for (;;) {
    const page: Page<Item> = await fetchPage(request);
    yield* page.items;
    const next = page.nextCursor ?? null;
    if (next === null) {
      return;
    }
    // A cursor that leads back to itself would page forever.
    if (next === request.cursor) {
      throw new Error(`paginate: the list answered its own cursor ${JSON.stringify(next)} again`);
    }
    request = { cursor: next };
  }
}
