"""Registering and changing subnets. The checks are public so the console's forms can show a
refusal on the form; the services check again under the subnet's lock."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from audit.recording import audit_record
from core import addressing
from core.choices import Code
from core.domain import CallContext
from core.errors import ServiceError
from core.transactions import service_transaction
from pools import subnet_space
from pools.allocation import lock_subnet
from pools.models import Subnet, SubnetExclusion
from pools.services.access import subnet_access_set


@dataclass(frozen=True)
class SubnetDefinition:
    """A checked CIDR, gateway and exclusions, in canonical text."""

    network: addressing.IPNetwork
    gateway: addressing.IPAddress
    exclusions: tuple[tuple[str, str], ...]

    def blocked(self) -> addressing.BlockedRanges:
        return subnet_space.blocked_ranges_of(str(self.gateway), self.exclusions)

    def same_as(self, subnet: Subnet) -> bool:
        """Whether `subnet` is registered with exactly this definition."""
        registered = sorted(subnet.exclusions.values_list("first_ip", "last_ip"))
        return (self.network, self.gateway, sorted(self.exclusions)) == (
            subnet.network,
            addressing.parse_ip(subnet.gateway),
            registered,
        )


def _parse_exclusions(network: addressing.IPNetwork, exclusions: list[str]) -> tuple[tuple[str, str], ...]:
    parsed = []
    for text in exclusions:
        try:
            first, last = addressing.parse_range(text)
        except ValueError as exc:
            raise ServiceError(Code.INVALID_REQUEST, f"Exclude: {text!r} is not an address or range: {exc}") from None
        if first not in network or last not in network:
            raise ServiceError(Code.INVALID_REQUEST, f"Exclude: {text!r} is not inside {network}")
        parsed.append((str(first), str(last)))
    return tuple(parsed)


# A prefix shorter than these is almost surely a typo (0.0.0.0/0, ::/0, /4 for /24): no pod
# network spans more than an IPv4 /8 or an IPv6 /32. Only the console can force one.
SHORTEST_PREFIX = {4: 8, 6: 32}


def subnet_definition_check(
    *,
    net_regional_id: str,
    cidr: str,
    gateway: str,
    exclusions: list[str],
    other_than: Subnet | None = None,
    force: bool = False,
) -> SubnetDefinition:
    """Check a subnet definition: a plausible network (any size with `force`), a usable gateway in
    it, exclusions inside it, and no overlap with another subnet of the region (`other_than` is
    the subnet being changed)."""
    try:
        network = addressing.parse_network(cidr)
    except ValueError as exc:
        raise ServiceError(Code.INVALID_REQUEST, f"CIDR: {cidr!r} is not a network: {exc}") from None
    shortest = SHORTEST_PREFIX[network.version]
    if network.prefixlen < shortest and not force:
        raise ServiceError(
            Code.INVALID_REQUEST,
            f"CIDR: {network} is far too large for a subnet (an IPv{network.version} prefix shorter than "
            f"/{shortest}); check the prefix length. An operator can still register it from the console "
            "(tick 'register even though the network is huge')",
        )
    try:
        gateway_ip = addressing.parse_ip(gateway)
    except ValueError:
        raise ServiceError(Code.INVALID_REQUEST, f"Gateway: {gateway!r} is not an IP address") from None
    low, high = addressing.usable_bounds(network)
    if gateway_ip.version != network.version or not low <= int(gateway_ip) <= high:
        raise ServiceError(Code.INVALID_REQUEST, f"Gateway: {gateway_ip} is not a usable address of {network}")
    others = Subnet.objects.filter(net_regional_id=net_regional_id, ip_version=network.version)
    if other_than is not None:
        others = others.exclude(pk=other_than.pk)
    for other in others.only("subnet_id", "cidr"):
        if other.network.overlaps(network):
            raise ServiceError(
                Code.INVALID_REQUEST,
                f"CIDR: {network} overlaps subnet {other.subnet_id} ({other.cidr}) in NetRegionalID {net_regional_id}",
            )
    return SubnetDefinition(network=network, gateway=gateway_ip, exclusions=_parse_exclusions(network, exclusions))


def subnet_change_check(
    *, subnet: Subnet, cidr: str, gateway: str, exclusions: list[str], force: bool = False
) -> SubnetDefinition:
    """Check a changed definition of a registered subnet: what subnet_definition_check refuses, and
    any change (CIDR, gateway, exclusions) that would strand an address a pool has reserved; it
    must first go back to the subnet."""
    definition = subnet_definition_check(
        net_regional_id=subnet.net_regional_id,
        cidr=cidr,
        gateway=gateway,
        exclusions=exclusions,
        other_than=subnet,
        force=force,
    )
    stranded = subnet_space.reserved_outside(subnet, definition.network, definition.blocked())
    if stranded:
        raise ServiceError(
            Code.INVALID_REQUEST,
            f"{definition.network} gateway {definition.gateway} with these exclusions would strand addresses "
            f"pools have reserved ({', '.join(stranded)}); release them first",
        )
    return definition


@service_transaction
def subnet_create(
    *,
    ctx: CallContext,
    net_regional_id: str,
    subnet_id: str,
    cidr: str,
    gateway: str,
    exclusions: list[str] | None = None,
    open_without_grants: bool | None = None,
    force: bool = False,
) -> tuple[Subnet, bool]:
    """Register a subnet. Registering the same definition again is a harmless no-op.

    A new subnet serves every cluster until one is granted, or none when `open_without_grants` is
    False (default: IPRESMGR_SUBNETS_OPEN_BY_DEFAULT). `force` (the console's) accepts a network
    of any size. Returns (subnet, created)."""
    existing = Subnet.objects.filter(subnet_id=subnet_id).first()
    definition = subnet_definition_check(
        net_regional_id=net_regional_id,
        cidr=cidr,
        gateway=gateway,
        exclusions=exclusions or [],
        other_than=existing,
        force=force or existing is not None,
    )
    if existing is not None:
        if existing.net_regional_id != net_regional_id or not definition.same_as(existing):
            raise ServiceError(
                Code.INVALID_REQUEST,
                f"SubnetID: {subnet_id!r} is already registered with another definition",
                http_status=409,
            )
        return existing, False
    subnet = Subnet.objects.create(
        net_regional_id=net_regional_id,
        subnet_id=subnet_id,
        cidr=str(definition.network),
        gateway=str(definition.gateway),
        ip_version=definition.network.version,
        open_without_grants=(
            settings.IPRESMGR_SUBNETS_OPEN_BY_DEFAULT if open_without_grants is None else open_without_grants
        ),
    )
    SubnetExclusion.objects.bulk_create(
        SubnetExclusion(subnet=subnet, first_ip=a, last_ip=b) for a, b in definition.exclusions
    )
    access = "open to every cluster until one is granted" if subnet.open_without_grants else "closed until granted"
    audit_record(
        ctx,
        subnet_id=subnet_id,
        msg=f"subnet {subnet_id} {definition.network} gateway {definition.gateway} registered; {access}",
        detail={"open_without_grants": subnet.open_without_grants},
    )
    return subnet, True


@service_transaction
def subnet_update(
    *, ctx: CallContext, subnet: Subnet, cidr: str, gateway: str, exclusions: list[str], force: bool = False
) -> Subnet:
    """Change a subnet's CIDR, gateway and exclusions (its SubnetID and NetRegionalID stay).

    Takes the subnet row lock, which reservations take too, so no address can be reserved
    between the check and the change. Exclusions that stay keep their reason."""
    subnet = lock_subnet(subnet.pk)
    definition = subnet_change_check(subnet=subnet, cidr=cidr, gateway=gateway, exclusions=exclusions, force=force)
    if definition.same_as(subnet):
        return subnet  # nothing to change, nothing to audit
    old_ranges = sorted(subnet.exclusions.values_list("first_ip", "last_ip"))
    before = f"{subnet.cidr} gateway {subnet.gateway} exclusions {old_ranges}"
    reasons = {(e.first_ip, e.last_ip): e.reason for e in subnet.exclusions.all()}
    network = definition.network
    subnet.cidr, subnet.gateway, subnet.ip_version = str(network), str(definition.gateway), network.version
    subnet.save(update_fields=["cidr", "gateway", "ip_version"])
    subnet.__dict__.pop("network", None)
    subnet.exclusions.all().delete()
    SubnetExclusion.objects.bulk_create(
        SubnetExclusion(subnet=subnet, first_ip=a, last_ip=b, reason=reasons.get((a, b), ""))
        for a, b in definition.exclusions
    )
    after = f"{subnet.cidr} gateway {subnet.gateway} exclusions {sorted(definition.exclusions)}"
    audit_record(
        ctx,
        subnet_id=subnet.subnet_id,
        msg=f"subnet {subnet.subnet_id} changed",
        detail={"before": before, "after": after},
    )
    return subnet


@dataclass(frozen=True)
class SubnetRegistration:
    subnet: Subnet
    created: bool
    access_changes: list[str]


@service_transaction
def subnet_register(
    *,
    ctx: CallContext,
    net_regional_id: str,
    subnet_id: str,
    cidr: str,
    gateway: str,
    exclusions: list[str] | None = None,
    grants: dict[str, int | None] | None = None,
    open_without_grants: bool | None = None,
    force: bool = False,
) -> SubnetRegistration:
    """Register a subnet (or find it registered with this very definition) and set who may use it,
    in one transaction: POST /v1/subnets and the console's add page. `grants` and
    `open_without_grants` as in subnet_access_set (None: as registered, or the default)."""
    subnet, created = subnet_create(
        ctx=ctx,
        net_regional_id=net_regional_id,
        subnet_id=subnet_id,
        cidr=cidr,
        gateway=gateway,
        exclusions=exclusions,
        open_without_grants=False if grants else open_without_grants,
        force=force,
    )
    changes = []
    if grants is not None or open_without_grants is not None:
        changes = subnet_access_set(ctx=ctx, subnet=subnet, grants=grants, open_without_grants=open_without_grants)
        subnet.refresh_from_db(fields=["open_without_grants"])
    return SubnetRegistration(subnet=subnet, created=created, access_changes=changes)
