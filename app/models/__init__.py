"""All models, imported here so that Alembic and the app see one metadata."""
from app.models.access import AccessBatch, AccessEntry, ScanCount
from app.models.audit import AuditEntry
from app.models.base import Base, utcnow
from app.models.households import (EVENT_KINDS, CardCounter, Household, HouseholdNotice, HouseholdOrigin,
                                   HouseholdState, HouseholdVersion, Person,
                                   PersonItems, VerifiedPerson, VersionKind)
from app.models.lists import (ACTIVE_STATES, LIST_SOURCES, ImportedList, ListMapping, ListProblem, ListRecord,
                              ListRecordLink, ListState, PREFILL_BUSY, PrefillState)
from app.models.printing import JOB_TRANSITIONS, BookSlot, PrintJob, PrintJobKind, PrintJobState
from app.models.quality import (AcceptanceState, DuplicateCandidate, DuplicateState, ExplanationState,
                                  HouseholdQuality, OverThreshold, QualityFinding, QualityRun, QualityThreshold, RunState, SpotCheck,
                                  SpotCheckItem, UnitExpectation, VillageAcceptance)
from app.models.sync import (CONFLICT_TRANSITIONS, ConflictResolution, ConflictState, DeviceToken,
                             HouseholdConflict, SyncReceipt)
from app.models.units import LEVEL_ORDER, AdminUnit, UnitLevel
from app.models.users import LoginFailure, Role, RoleAssignment, User, UserSession
from app.models.workflow import Signature, WorkflowAction, WorkflowEvent

__all__ = [
    "AccessBatch", "AccessEntry", "ScanCount",
    "AdminUnit", "AuditEntry", "Base", "BookSlot", "CardCounter", "JOB_TRANSITIONS", "PrintJob", "PrintJobKind", "PrintJobState", "Household", "HouseholdNotice", "HouseholdOrigin", "HouseholdState", "HouseholdVersion",
    "Person", "PersonItems", "VerifiedPerson", "VersionKind", "EVENT_KINDS", "LEVEL_ORDER", "LoginFailure", "Role",
    "RoleAssignment", "Signature", "UnitLevel", "User", "UserSession", "WorkflowAction",
    "WorkflowEvent", "utcnow",
    "CONFLICT_TRANSITIONS", "ConflictResolution", "ConflictState", "DeviceToken", "HouseholdConflict",
    "SyncReceipt",
    "ACTIVE_STATES", "LIST_SOURCES", "ImportedList", "ListMapping", "ListProblem", "ListRecord", "ListRecordLink", "ListState",
    "PREFILL_BUSY", "PrefillState",
    "AcceptanceState", "DuplicateCandidate", "DuplicateState", "ExplanationState", "HouseholdQuality", "OverThreshold", "QualityFinding",
    "QualityRun", "QualityThreshold", "RunState", "SpotCheck", "SpotCheckItem", "UnitExpectation",
    "VillageAcceptance",
]
