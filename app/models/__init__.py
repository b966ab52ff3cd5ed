"""ORM models, one module per domain. Importing this package registers every table."""

from app.models.accounts import (  # noqa: F401
    Account,
    Invitation,
    PasswordResetToken,
    Plan,
    SiteAccess,
    Subscription,
    User,
    UserSession,
)
from app.models.jobs import Job, SchedulerClaim  # noqa: F401
from app.models.notifications import Notification  # noqa: F401
from app.models.reference import Industry, IndustrySector, SeedKeyword  # noqa: F401
from app.models.sites import Sector, Site  # noqa: F401
from app.models.system import AuditEvent, OutboxMessage  # noqa: F401
from app.models.billing import (  # noqa: F401
    CreditPackage,
    CreditReservation,
    CreditTransaction,
    CreditUsageLog,
    OperationPrice,
    Order,
)
from app.models.ai import AIModel, AIProvider  # noqa: F401
from app.models.thinker import (  # noqa: F401
    AuthorProfile,
    ContentStrategy,
    PlatformSetting,
    PromptDefault,
    PromptOverride,
)
from app.models.planner import Cluster, Idea, Keyword, KeywordImport, Task  # noqa: F401
from app.models.writer import Content, ContentVersion, WriterSettings  # noqa: F401
from app.models.images import ContentImage  # noqa: F401
from app.models.publishing import Publication, PublicationStep, PublishSettings  # noqa: F401
from app.models.automation import AutomationItem, AutomationRun, AutomationSettings  # noqa: F401
