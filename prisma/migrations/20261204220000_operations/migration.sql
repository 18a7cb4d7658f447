-- Operations (API-operations.md "Session exceptions", "Monthly permits and the deny list", "Merchant
-- validations", "Tariffs", "The fee rule, complete"): voided sessions and tickets, monthly permits,
-- the deny list, validators and validations, the `validator` key role, tariffs on the rate and the
-- payment's discount.
-- Written from `prisma migrate diff --from-migrations prisma/migrations --to-schema-datamodel
-- schema.prisma --script`, edited by hand (every edit marked `-- hand:`):
-- - Payment.discountCents and Rate's two tariff columns are added with ALTER TABLE ... ADD COLUMN
--   (a constant default is enough in SQLite) instead of Prisma's rebuilds, which would drop those
--   tables' CHECK constraints; each new column carries its own CHECK (SQLite 3.37+ checks it
--   against the existing rows, and a column's own CHECK does not stop DROP COLUMN in down.sql).
-- - Session, Ticket and ApiKey are rebuilt (CREATE new_X, copy, DROP X, RENAME: SQLite cannot change
--   a CHECK constraint in place) because their enum CHECKs gain VOIDED, VOID and validator. Each
--   rebuild carries the table's CHECK constraints from 20261124211446_init, widened, plus new ones;
--   every index is recreated, the partial unique indexes (one ACTIVE session per spot and per
--   vehicle) included. Prisma proposed no rebuild of Ticket (it does not see CHECKs).
-- - Session.vehicleType is filled from each session's vehicle (the type the vehicle has now: the
--   type at check-in was never recorded before; a known plate keeps its stored type at check-in, so
--   the two differ only where an admin changed a vehicle's type since).
-- - CHECK constraints on the new tables: the vocabulary's enum values (garage/vocabulary.py;
--   tests/migrations/test_check_constraints_match_vocabulary.py), plates normalised, a permit's
--   window ordered and at most 400 days (PERMIT_MAX_DAYS), a validator's value in its kind's range
--   (VALIDATOR_VALUE_RANGES), tariffs stored as JSON of the right shape.
-- Rolling back (down.sql) cannot keep rows that use the new values (VOIDED sessions, VOID tickets,
-- validator keys): its rebuilds refuse them, so void nothing and revoke such keys first.

-- CreateTable
CREATE TABLE "Permit" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "garageId" TEXT NOT NULL,
    "licensePlate" TEXT NOT NULL,
    "holderName" TEXT,
    "holderEmail" TEXT,
    "validFrom" DATETIME NOT NULL,
    "validTo" DATETIME NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'ACTIVE',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Permit_garageId_fkey" FOREIGN KEY ("garageId") REFERENCES "Garage" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Permit_status_check" CHECK ("status" IN ('ACTIVE', 'CANCELLED')),
    CONSTRAINT "Permit_licensePlate_check" CHECK (length("licensePlate") BETWEEN 2 AND 10 AND "licensePlate" NOT GLOB '*[^A-Z0-9]*'),
    CONSTRAINT "Permit_window_check" CHECK (julianday("validFrom") < julianday("validTo") AND julianday("validTo") - julianday("validFrom") <= 400)
);

-- CreateTable
CREATE TABLE "DeniedPlate" (
    "garageId" TEXT NOT NULL,
    "licensePlate" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("garageId", "licensePlate"),
    CONSTRAINT "DeniedPlate_garageId_fkey" FOREIGN KEY ("garageId") REFERENCES "Garage" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "DeniedPlate_licensePlate_check" CHECK (length("licensePlate") BETWEEN 2 AND 10 AND "licensePlate" NOT GLOB '*[^A-Z0-9]*')
);

-- CreateTable
CREATE TABLE "Validator" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "garageId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" INTEGER NOT NULL,
    "active" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Validator_garageId_fkey" FOREIGN KEY ("garageId") REFERENCES "Garage" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Validator_kind_check" CHECK ("kind" IN ('FREE_MINUTES', 'AMOUNT_OFF', 'PERCENT_OFF', 'FULL')),
    CONSTRAINT "Validator_value_check" CHECK (
        ("kind" = 'FREE_MINUTES' AND "value" BETWEEN 1 AND 1440) OR
        ("kind" = 'AMOUNT_OFF' AND "value" BETWEEN 1 AND 10000000) OR
        ("kind" = 'PERCENT_OFF' AND "value" BETWEEN 1 AND 100) OR
        ("kind" = 'FULL' AND "value" = 0))
);

-- CreateTable
CREATE TABLE "Validation" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "sessionId" TEXT NOT NULL,
    "validatorId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "value" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "Validation_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Validation_validatorId_fkey" FOREIGN KEY ("validatorId") REFERENCES "Validator" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Validation_kind_check" CHECK ("kind" IN ('FREE_MINUTES', 'AMOUNT_OFF', 'PERCENT_OFF', 'FULL')),
    CONSTRAINT "Validation_value_check" CHECK ("value" >= 0)
);

-- hand: instead of Prisma's rebuilds of Payment and Rate (see the top of this file)
ALTER TABLE "Payment" ADD COLUMN "discountCents" INTEGER NOT NULL DEFAULT 0 CONSTRAINT "Payment_discountCents_check" CHECK ("discountCents" >= 0);
ALTER TABLE "Rate" ADD COLUMN "vehicleTypeRates" TEXT NOT NULL DEFAULT '{}' CONSTRAINT "Rate_vehicleTypeRates_check" CHECK (json_valid("vehicleTypeRates") AND json_type("vehicleTypeRates") = 'object');
ALTER TABLE "Rate" ADD COLUMN "flatRates" TEXT NOT NULL DEFAULT '[]' CONSTRAINT "Rate_flatRates_check" CHECK (json_valid("flatRates") AND json_type("flatRates") = 'array');

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "role" TEXT NOT NULL,
    "validatorId" TEXT,
    "prefix" TEXT NOT NULL,
    "hash" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    "revokedAt" DATETIME,
    "lastUsedAt" DATETIME,
    CONSTRAINT "ApiKey_validatorId_fkey" FOREIGN KEY ("validatorId") REFERENCES "Validator" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "ApiKey_role_check" CHECK ("role" IN ('admin', 'operator', 'viewer', 'validator')),
    CONSTRAINT "ApiKey_validatorId_check" CHECK (("role" = 'validator') = ("validatorId" IS NOT NULL))
);
INSERT INTO "new_ApiKey" ("createdAt", "hash", "id", "lastUsedAt", "name", "prefix", "revokedAt", "role", "updatedAt") SELECT "createdAt", "hash", "id", "lastUsedAt", "name", "prefix", "revokedAt", "role", "updatedAt" FROM "ApiKey";
DROP TABLE "ApiKey";
ALTER TABLE "new_ApiKey" RENAME TO "ApiKey";
CREATE UNIQUE INDEX "ApiKey_prefix_key" ON "ApiKey"("prefix");
CREATE TABLE "new_Session" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "garageId" TEXT NOT NULL,
    "spotId" TEXT NOT NULL,
    "vehicleId" TEXT NOT NULL,
    "licensePlate" TEXT NOT NULL,
    "vehicleType" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'ACTIVE',
    "startTime" DATETIME NOT NULL,
    "endTime" DATETIME,
    "feeCents" INTEGER,
    "permitId" TEXT,
    "voidReason" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Session_garageId_fkey" FOREIGN KEY ("garageId") REFERENCES "Garage" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Session_spotId_fkey" FOREIGN KEY ("spotId") REFERENCES "Spot" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Session_vehicleId_fkey" FOREIGN KEY ("vehicleId") REFERENCES "Vehicle" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    CONSTRAINT "Session_permitId_fkey" FOREIGN KEY ("permitId") REFERENCES "Permit" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
    -- hand: CHECK constraints (see the top of this file)
    CONSTRAINT "Session_status_check" CHECK ("status" IN ('ACTIVE', 'COMPLETED', 'VOIDED')),
    CONSTRAINT "Session_licensePlate_check" CHECK (length("licensePlate") BETWEEN 2 AND 10 AND "licensePlate" NOT GLOB '*[^A-Z0-9]*'),
    CONSTRAINT "Session_vehicleType_check" CHECK ("vehicleType" IN ('MOTORCYCLE', 'CAR', 'EV', 'VAN', 'TRUCK')),
    CONSTRAINT "Session_feeCents_check" CHECK ("feeCents" IS NULL OR "feeCents" >= 0),
    CONSTRAINT "Session_endTime_check" CHECK ("endTime" IS NULL OR "endTime" >= "startTime"),
    CONSTRAINT "Session_completed_check" CHECK ("status" <> 'COMPLETED' OR ("endTime" IS NOT NULL AND "feeCents" IS NOT NULL)),
    CONSTRAINT "Session_active_check" CHECK ("status" <> 'ACTIVE' OR "endTime" IS NULL),
    CONSTRAINT "Session_voided_check" CHECK (("status" = 'VOIDED') = ("voidReason" IS NOT NULL) AND ("status" <> 'VOIDED' OR ("endTime" IS NOT NULL AND "feeCents" IS NULL)))
);
-- hand: vehicleType from each session's vehicle (see the top of this file)
INSERT INTO "new_Session" ("createdAt", "endTime", "feeCents", "garageId", "id", "licensePlate", "spotId", "startTime", "status", "updatedAt", "vehicleId", "vehicleType") SELECT "createdAt", "endTime", "feeCents", "garageId", "id", "licensePlate", "spotId", "startTime", "status", "updatedAt", "vehicleId", (SELECT "type" FROM "Vehicle" WHERE "Vehicle"."id" = "Session"."vehicleId") FROM "Session";
DROP TABLE "Session";
ALTER TABLE "new_Session" RENAME TO "Session";
CREATE INDEX "Session_garageId_startTime_idx" ON "Session"("garageId", "startTime");
CREATE INDEX "Session_startTime_id_idx" ON "Session"("startTime", "id");
CREATE INDEX "Session_spotId_status_idx" ON "Session"("spotId", "status");
CREATE INDEX "Session_vehicleId_startTime_idx" ON "Session"("vehicleId", "startTime");
CREATE INDEX "Session_status_startTime_idx" ON "Session"("status", "startTime");
CREATE INDEX "Session_licensePlate_startTime_idx" ON "Session"("licensePlate", "startTime");
CREATE INDEX "Session_garageId_endTime_idx" ON "Session"("garageId", "endTime");
CREATE INDEX "Session_status_endTime_idx" ON "Session"("status", "endTime");
-- hand: the partial unique indexes of 20261124211446_init, dropped with the old table
CREATE UNIQUE INDEX "Session_spotId_active_key" ON "Session"("spotId") WHERE "status" = 'ACTIVE';
CREATE UNIQUE INDEX "Session_vehicleId_active_key" ON "Session"("vehicleId") WHERE "status" = 'ACTIVE';
-- hand: Ticket rebuilt for its widened status CHECK (see the top of this file)
CREATE TABLE "new_Ticket" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "code" TEXT NOT NULL,
    "sessionId" TEXT NOT NULL,
    "issuedAt" DATETIME NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'OPEN',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "Ticket_sessionId_fkey" FOREIGN KEY ("sessionId") REFERENCES "Session" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Ticket_status_check" CHECK ("status" IN ('OPEN', 'PAID', 'LOST', 'VOID')),
    CONSTRAINT "Ticket_code_check" CHECK (length("code") >= 8 AND "code" NOT GLOB '*[^A-HJ-NP-Z2-9]*')
);
INSERT INTO "new_Ticket" ("code", "createdAt", "id", "issuedAt", "sessionId", "status", "updatedAt") SELECT "code", "createdAt", "id", "issuedAt", "sessionId", "status", "updatedAt" FROM "Ticket";
DROP TABLE "Ticket";
ALTER TABLE "new_Ticket" RENAME TO "Ticket";
CREATE UNIQUE INDEX "Ticket_code_key" ON "Ticket"("code");
CREATE UNIQUE INDEX "Ticket_sessionId_key" ON "Ticket"("sessionId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "Permit_garageId_licensePlate_validFrom_idx" ON "Permit"("garageId", "licensePlate", "validFrom");

-- CreateIndex
CREATE INDEX "Permit_garageId_validFrom_idx" ON "Permit"("garageId", "validFrom");

-- CreateIndex
CREATE INDEX "Validator_garageId_createdAt_idx" ON "Validator"("garageId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "Validation_sessionId_key" ON "Validation"("sessionId");

-- CreateIndex
CREATE INDEX "Validation_validatorId_createdAt_idx" ON "Validation"("validatorId", "createdAt");
