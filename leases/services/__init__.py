"""Who holds an address, the only write path: binding (bindings.py: RequireIP, and the locks),
releasing (releases.py: ReleaseIP, ending a binding) and the console's address actions
(addresses.py). Views, admin and commands call these."""

from leases.services.addresses import address_hold, address_return_idle, binding_force_release  # noqa: F401
from leases.services.bindings import (  # noqa: F401
    BOUND_MSG,
    HELD_MSG,
    IDLE_MSG,
    INT4_MAX,
    NOTHING_BOUND_MSG,
    RETURNED_MSG,
    SURGE_WAIT_ROUNDS,
    WORKLOAD_POOL_SQL,
    RequiredAddress,
    ip_require,
    one_statement_paths,
    workload_params,
)
from leases.services.releases import (  # noqa: F401
    end_binding_locked,
    ip_release,
    ip_release_conflict,
    restore_binding_locked,
    unbind_locked,
)
