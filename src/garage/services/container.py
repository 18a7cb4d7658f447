"""The services of one running app, built once in the lifespan on the one database client."""

from __future__ import annotations

from dataclasses import dataclass

from garage.config import Settings
from garage.repositories.unit_of_work import Database
from garage.runtime.backups import BackupStore
from garage.security.crypto import FieldCipher
from garage.security.revocations import RevocationNews, revocations_path
from garage.services.api_keys import ApiKeyService
from garage.services.archive import ArchiveReader
from garage.services.audit import AuditService
from garage.services.events import EventService, EventWatcher
from garage.services.garages import GarageService
from garage.services.parking import ParkingService, PaymentService
from garage.services.permits import DenyListService, PermitService
from garage.services.reports import ReportService
from garage.services.spots import SpotService
from garage.services.validations import ValidationService
from garage.services.vehicles import VehicleService
from garage.services.webhooks import WebhookService


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    cipher: FieldCipher
    keys: ApiKeyService
    audit: AuditService
    events: EventService
    # One per process: what every open event stream of this worker listens to (closed by the lifespan).
    event_watcher: EventWatcher
    vehicles: VehicleService
    parking: ParkingService
    payments: PaymentService
    garages: GarageService
    spots: SpotService
    reports: ReportService
    webhooks: WebhookService
    permits: PermitService
    denied_plates: DenyListService
    validations: ValidationService
    # The archive database for reports asked to include it (`garage archive`); closed by the lifespan.
    archive_reader: ArchiveReader
    backups: BackupStore

    @classmethod
    def build(cls, settings: Settings, db: Database) -> Services:
        cipher = FieldCipher(settings.encryption_keys)
        archive_reader = ArchiveReader(settings)
        return cls(
            settings=settings,
            db=db,
            cipher=cipher,
            keys=ApiKeyService(
                db, settings.secret_key.get_secret_value(), RevocationNews(revocations_path(settings.database_path))
            ),
            audit=AuditService(db),
            events=EventService(db),
            event_watcher=EventWatcher(db),
            vehicles=VehicleService(db, cipher),
            parking=ParkingService(db, cipher),
            payments=PaymentService(db, cipher),
            garages=GarageService(db),
            spots=SpotService(db),
            reports=ReportService(db, archive_reader),
            webhooks=WebhookService(db, cipher, allow_private=settings.webhook_allow_private),
            permits=PermitService(db, cipher),
            denied_plates=DenyListService(db),
            validations=ValidationService(db),
            archive_reader=archive_reader,
            backups=BackupStore(
                settings.backup_dir, database=settings.database_path, min_free_bytes=settings.min_free_bytes
            ),
        )
