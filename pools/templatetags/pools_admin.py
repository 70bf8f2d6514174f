"""The console's dashboard, and how it prints figures and long names."""

from django import template
from django.utils.html import format_html

from pools import selectors

register = template.Library()

# Below this a count prints as it is; above, as a power of two or in scientific notation (an
# IPv6 /64 holds 18446744073709551614 addresses, which nobody reads at a glance).
PLAIN_BELOW = 10**9


@register.filter
def readable_count(value: int) -> str:
    """`253`, `2^64 - 2`, `2^80`, `1.2e+19`: a count a person can read. The exact figure is in the
    API and in the cell's title (see count_cell)."""
    if value < PLAIN_BELOW:
        return str(value)
    power = value.bit_length()  # 2^(power-1) <= value < 2^power
    for exponent in (power, power - 1):
        difference = value - 2**exponent
        if abs(difference) < 2**16:
            sign = "+" if difference > 0 else "-"
            return f"2^{exponent}" + (f" {sign} {abs(difference)}" if difference else "")
    return f"{value:.2g}"


@register.filter
def count_cell(value: int):
    """A count for a table cell: readable, with the exact figure on hover."""
    return format_html('<span class="ipr-num" title="{}">{}</span>', value, readable_count(value))


def cut(text, size: str = "") -> str:
    """A long name cut short to fit its column, whole on hover (size: "", "short" or "long")."""
    text = "" if text is None else str(text)
    classes = f"ipr-cut ipr-{size}" if size else "ipr-cut"
    return format_html('<span class="{}" title="{}">{}</span>', classes, text, text)


@register.filter(name="cut_text")
def cut_text(text, size: str = ""):
    return cut(text, size)


@register.simple_tag
def utilization_bar(use: selectors.SubnetUsage):
    color = "#ba2121" if use.percent >= 90 else "#e6a700" if use.percent >= 70 else "#417690"
    return format_html(
        '<span class="ipresmgr-bar ipr-bar" title="{}% reserved"><span style="width:{}%;background:{}"></span>'
        "</span> {}%",
        use.percent,
        use.percent,
        color,
        use.percent,
    )


@register.inclusion_tag("admin/pools/dashboard.html")
def ipresmgr_dashboard():
    subnets = [(s, selectors.usage(s)) for s in selectors.subnets_with_usage()]
    subnets.sort(key=lambda pair: (-pair[1].percent, pair[0].subnet_id))
    pools = selectors.pools_needing_attention()
    return {"subnets": subnets[:30], "more_subnets": max(0, len(subnets) - 30), "pools": pools}
