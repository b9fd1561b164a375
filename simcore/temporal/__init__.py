"""The bridge to a real engine: our histories as Temporal history JSON, and back, event for event.

Our engine records what a Temporal server records (workflow tasks included), with the same event
ids, so `export` maps each event to one Temporal event and invents none. It writes what
`temporal workflow show --output json` prints and what `temporalio.client.WorkflowHistory.from_json`
reads (proto3 JSON): Temporal's event type names, payloads in the `json/plain` encoding, durations
as Temporal parses them ("2592000s", "0.5s").

The first WorkflowTaskCompleted carries `sdkMetadata.coreUsedFlags: [1]`. Flag 1 of Temporal's
sdk-core is `IdAndTypeDeterminismChecks`: during replay, core checks that a recorded activity's
type and id match the command the code produced only if the history says the flag was used when
it was written (`InternalFlags::try_use` in core/src/internal_flags.rs answers from the flags found
in WorkflowTaskCompleted events). Histories written by older SDKs lack it, and core stays lenient
with them so they keep replaying; without the flag, a swapped activity order goes unnoticed.

`load` is the inverse: a Temporal history JSON (a real server's, or ours) becomes the course's own
events, so the history panel shows a real server's history in the same rows as its own. Event
types the course does not model are kept and shown by name, never dropped.
"""
from .export import export
from .formats import CORE_FLAGS, JSON_PLAIN, decode, duration, payloads, seconds
from .load import Imported, TemporalEvent, load

__all__ = ["CORE_FLAGS", "JSON_PLAIN", "Imported", "TemporalEvent", "decode", "duration", "export", "load",
           "payloads", "seconds"]
