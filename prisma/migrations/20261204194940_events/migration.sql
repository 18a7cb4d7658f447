-- The event log (API-operations.md "Events") and the garage's `closed` state ("Garage state").
-- Edited by hand after `prisma migrate dev --create-only --name events`:
-- - Garage.closed is added with ALTER TABLE ... ADD COLUMN instead of the table rebuild Prisma
--   generated: a constant default makes ADD COLUMN enough in SQLite, and the rebuild would have
--   dropped the table's hand-written CHECK constraints (20261124211446_init).
-- - CHECK constraints on Event: `type` is one of the vocabulary's EventType values (garage/vocabulary.py;
--   tests/migrations/test_check_constraints_match_vocabulary.py keeps them equal), `data` is JSON.

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
