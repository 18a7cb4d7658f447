-- The event log (API-operations.md "Events") and the garage's `closed` state ("Garage state").
-- Edited by hand after `prisma migrate dev --create-only --name events`:
-- - Garage.closed is added with ALTER TABLE ... ADD COLUMN instead of the table rebuild Prisma
--   generated: a constant default makes ADD COLUMN enough in SQLite, and the rebuild would have
--   dropped the table's hand-written CHECK constraints (20261124211446_init).
-- - CHECK constraints on Event: `type` is one of the vocabulary's EventType values (garage/vocabulary.py;
--   tests/migrations/test_check_constraints_match_vocabulary.py keeps them equal), `data` is JSON.
-- - Webhooks (API-operations.md "Events": Webhooks, Delivery), added by hand to this unreleased
--   migration from `prisma migrate diff`'s output for them, with CHECK constraints: Webhook.types is a
--   JSON array, WebhookDelivery.status one of the vocabulary's WebhookDeliveryStatus values, the
--   counters not negative; WebhookCursor holds one row (id 1), inserted here at 0 (the log is empty).

-- CreateTable
CREATE TABLE "Event" (
    "seq" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "type" TEXT NOT NULL,
    "garageId" TEXT,
    "occurredAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "data" TEXT NOT NULL,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Event_type_check" CHECK ("type" IN ('session.started', 'session.completed', 'session.voided', 'spot.changed', 'occupancy.changed', 'payment.refunded', 'validation.created', 'permit.changed')),
    CONSTRAINT "Event_data_check" CHECK (json_valid("data"))
);

-- hand: instead of Prisma's table rebuild (see the top of this file)
ALTER TABLE "Garage" ADD COLUMN "closed" BOOLEAN NOT NULL DEFAULT false;

-- CreateIndex
CREATE INDEX "Event_garageId_seq_idx" ON "Event"("garageId", "seq");

-- CreateIndex
CREATE INDEX "Event_occurredAt_idx" ON "Event"("occurredAt");

-- CreateTable
CREATE TABLE "Webhook" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "url" TEXT NOT NULL,
    "types" TEXT NOT NULL DEFAULT '[]',
    "garageId" TEXT,
    "secret" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deletedAt" DATETIME,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Webhook_types_check" CHECK (json_valid("types") AND json_type("types") = 'array')
);

-- CreateTable
CREATE TABLE "WebhookDelivery" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "webhookId" TEXT NOT NULL,
    "eventSeq" INTEGER NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'PENDING',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastResponseStatus" INTEGER,
    "lastError" TEXT,
    "nextAttemptAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "WebhookDelivery_webhookId_fkey" FOREIGN KEY ("webhookId") REFERENCES "Webhook" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "WebhookDelivery_status_check" CHECK ("status" IN ('PENDING', 'DELIVERED', 'FAILED')),
    CONSTRAINT "WebhookDelivery_attempts_check" CHECK ("attempts" >= 0)
);

-- CreateTable
CREATE TABLE "WebhookCursor" (
    "id" INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    "seq" INTEGER NOT NULL,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "WebhookCursor_id_check" CHECK ("id" = 1),
    CONSTRAINT "WebhookCursor_seq_check" CHECK ("seq" >= 0)
);

-- hand: the fan-out's one cursor row (see the top of this file)
INSERT INTO "WebhookCursor" ("id", "seq") VALUES (1, 0);

-- CreateIndex
CREATE INDEX "Webhook_deletedAt_idx" ON "Webhook"("deletedAt");

-- CreateIndex
CREATE INDEX "WebhookDelivery_status_nextAttemptAt_idx" ON "WebhookDelivery"("status", "nextAttemptAt");

-- CreateIndex
CREATE UNIQUE INDEX "WebhookDelivery_webhookId_eventSeq_key" ON "WebhookDelivery"("webhookId", "eventSeq");
