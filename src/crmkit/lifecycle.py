"""Everything about lifecycles, in one import: models and their presets, stage histories,
and the reports over them.

```python
from crmkit.lifecycle import CUSTOMER_LIFECYCLE, LifecycleModel, Stage, Transition
```

A CRM tracks the models of its settings (``Settings(lifecycles=[CUSTOMER_LIFECYCLE])``);
``crm.lifecycle`` moves subjects through them.
"""

from crmkit.domain import (
    CUSTOMER_LIFECYCLE,
    DEAL_PIPELINE,
    HUBSPOT_LIFECYCLE,
    DurationStats,
    Funnel,
    FunnelStep,
    LifecycleModel,
    Outcome,
    ProgressionReport,
    ProgressionRule,
    Stage,
    StageChange,
    StageFlow,
    StageHistory,
    Stay,
    SubjectKind,
    TimeInStage,
    Transition,
)

__all__ = [
    "CUSTOMER_LIFECYCLE",
    "DEAL_PIPELINE",
    "HUBSPOT_LIFECYCLE",
    "DurationStats",
    "Funnel",
    "FunnelStep",
    "LifecycleModel",
    "Outcome",
    "ProgressionReport",
    "ProgressionRule",
    "Stage",
    "StageChange",
    "StageFlow",
    "StageHistory",
    "Stay",
    "SubjectKind",
    "TimeInStage",
    "Transition",
]
