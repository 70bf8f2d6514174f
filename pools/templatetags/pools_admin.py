"""The dashboard on the console's index page."""

from django import template

from pools import selectors

register = template.Library()


@register.inclusion_tag("admin/pools/dashboard.html")
def ipresmgr_dashboard():
    subnets = [(s, selectors.usage(s)) for s in selectors.subnets_with_usage()]
    subnets.sort(key=lambda pair: (-pair[1].percent, pair[0].subnet_id))
    pools = selectors.pools_needing_attention()
    return {"subnets": subnets[:30], "more_subnets": max(0, len(subnets) - 30), "pools": pools}
