"""Everything to write segments, in one import: the builder and the classes it builds.

```python
from crmkit.segments import days, field, purchases, tagged

rule = (field("country") == "DE") & (purchases(last=days(90)).count() >= 3) | tagged("vip")
```

The segment language reference (``docs/concepts/segments.md``) lists every field and operator.
"""

from crmkit.domain.rules.aggregates import AggregateCondition, Measure, Window
from crmkit.domain.rules.conditions import AllOf, AnyOf, Condition, Facts, Not
from crmkit.domain.rules.evaluate import Matcher, compile_condition, evaluate, matching
from crmkit.domain.rules.leaves import (
    MAX_LIST_VALUES,
    SEGMENT_FIELDS,
    ConsentCondition,
    FieldCondition,
    FieldType,
    Op,
    TagCondition,
    TraitCondition,
)
from crmkit.domain.rules.stage_leaves import Members, StageCondition
from crmkit.domain.segments.activity import Aggregate, Interactions, interactions, purchases
from crmkit.domain.segments.builder import (
    Field,
    StageRef,
    Trait,
    consent,
    days,
    field,
    members,
    stage,
    tagged,
    trait,
)
from crmkit.domain.segments.membership import MembershipChange, SegmentSnapshot
from crmkit.domain.segments.segment import SEGMENT_CONDITION_TYPES, Segment

__all__ = [
    "MAX_LIST_VALUES",
    "SEGMENT_CONDITION_TYPES",
    "SEGMENT_FIELDS",
    "Aggregate",
    "AggregateCondition",
    "AllOf",
    "AnyOf",
    "Condition",
    "ConsentCondition",
    "Facts",
    "Field",
    "FieldCondition",
    "FieldType",
    "Interactions",
    "Matcher",
    "Measure",
    "Members",
    "MembershipChange",
    "Not",
    "Op",
    "Segment",
    "SegmentSnapshot",
    "StageRef",
    "StageCondition",
    "TagCondition",
    "Trait",
    "TraitCondition",
    "Window",
    "compile_condition",
    "consent",
    "days",
    "evaluate",
    "field",
    "interactions",
    "matching",
    "members",
    "purchases",
    "stage",
    "tagged",
    "trait",
]
