"""A Hypothesis state machine that holds a storage adapter to crmkit's in-memory model.

`AdapterStateMachine` performs one random sequence of operations on two sides at once: the
adapter under test, and crmkit's reference adapter (`crmkit.adapters.memory`), the *model*. It
registers customers (often with an email, external id or id that is already taken), updates
profiles, races a stale update against a newer one, records interactions (some with an external
reference), replays them, changes consent, registers and updates accounts, abandons or rolls
back units of work, and lets time pass, in two tenants. Both sides share one `FixedClock` and
start from identical `SequentialIds`, so they must end every step holding exactly the same data.

Both sides' CRMs track the lifecycle models `LIFECYCLES` (`crmkit.CUSTOMER_LIFECYCLE`, a small
guarded ``onboarding`` model of the machine's own, and `crmkit.DEAL_PIPELINE` for accounts), so
registering through the `CRM` enters the models and recording an interaction through it runs
their progression rules (for the customer and the customer's account). The machine also moves
customers and accounts by hand (often to a stage the model allows next, sometimes to one it
does not, past a guard that fails, at an instant before the last change, with a stale expected
version, or for a subject the tenant does not hold), puts subjects into a model at a chosen
stage, applies the rules to one subject, re-evaluates a whole tenant (twice at the same
``as_of``, now and then: the second run must change nothing), and races a stale copy of a
history against a newer move.

Both sides' CRMs also run the loyalty programme `LOYALTY` (spend and event rules, a tier with
a multiplier, a daily cap, a pending period and an expiry shorter than the time the machine
lets pass, a redemption minimum and step, a reward, a referral policy), so recording an
interaction through the `CRM` earns points (purchases are mostly in EUR, so that they do).
The machine earns points for registered customers and for members of its own (`MEMBERS`),
refunds recorded purchases (in part, in full or for the rest, naming the purchase by id or
external reference; sometimes naming another customer's purchase, an interaction that is no
purchase or nothing stored, which both sides must refuse alike), redeems points (a share of
the balance, all of it, more than it, a reward, an amount off the step, sometimes with a key
already used), adjusts balances up and down, runs the points job (now or days ago, page by
page, and twice at the same ``as_of``: the second run must report and change nothing; also
after time passes, as a scheduler would), and records referrals (of newcomers, of other
customers, of the referrer themselves or of someone already referred: the last two must be
refused with `crmkit.errors.ReferralRefused` on both sides).

Every operation must have the same outcome on both sides (the same value, or the same crmkit
error type), and after every step every read must agree: customers and interactions streamed,
counted, listed page by page, looked up by id, email, external id and external reference, the
timelines, the accounts, the stage histories (streamed per model in small and large batches
and by stage, counted by stage, and read per customer and account), the stored points
balances, each customer's balance now, each member's statement (entry by entry, field by
field: ids come from `SequentialIds` on both sides) and tier, the referrals, and the events
published (`crmkit.StageChanged` and the loyalty events included). Every history the adapter
holds must be a path through its model, of a subject the tenant holds, and every stage change
stored must have been announced by one `crmkit.StageChanged` event. For every member, the
adapter's points must add up (nothing negative; earned and adjusted in equal redeemed,
expired, reversed, adjusted out, available and pending, now and in the past), the balance it
reads now must be what `CRM.points_state` adds up to now, and relaunching the points job at
the last run's ``as_of`` must change nothing. Where the contract suite
(`crmkit.testing.contract`) checks one behaviour at a time from a known state, the machine
searches for the sequences nobody thought to write down, and Hypothesis shrinks any
disagreement to the shortest program that shows it.

To check an adapter, subclass the machine, override `AdapterStateMachine.open_storage` to
return a `crmkit.ports.Store` over fresh, empty storage (the same store the contract's
``store`` fixture returns) and, if that storage needs cleaning up,
`AdapterStateMachine.close_storage`. Then expose its ``TestCase`` to pytest or unittest:

```python
from hypothesis import settings

from crmkit.ports import Store
from crmkit.testing.stateful import AdapterStateMachine


class MyAdapterMachine(AdapterStateMachine):
    def open_storage(self) -> Store:
        self.store = MyStore.create_empty()
        return self.store

    def close_storage(self) -> None:
        self.store.drop()


TestMyAdapter = MyAdapterMachine.TestCase
TestMyAdapter.settings = settings(max_examples=25, stateful_step_count=30, deadline=None)
```

`open_storage` runs once per example (each run of the machine), so every example starts empty.

The machine is composed of one rule group per capability, each a class of Hypothesis rules
in a module of this package (`customers`, `interactions`, `units_of_work`, `accounts`,
`lifecycle`, `loyalty`, `referrals`, `clock`) and the invariant that compares every read
(`reads`); they share the state and the bundles of one base class (`_base`), and
`AdapterStateMachine` (`machine`) inherits them all.
"""

from __future__ import annotations

from crmkit.testing.stateful._config import LIFECYCLES, LOYALTY, TENANTS
from crmkit.testing.stateful.machine import AdapterStateMachine

__all__ = ["LIFECYCLES", "LOYALTY", "TENANTS", "AdapterStateMachine"]
