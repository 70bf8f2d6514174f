"""The operators' console (the Django admin). Every change here calls the same services as the API,
with the same locks and checks, and the audit event names the admin user. Nothing is deleted from
here. The addresses page is leases' (leases/admin.py): it shows and changes who holds them."""

from django.contrib import admin

from pools.admin import clusters, pools, quarantine, subnets  # noqa: F401 - each registers its pages

admin.site.site_header = "IPResMgr operators' console"
admin.site.site_title = "IPResMgr console"
admin.site.index_title = "Dashboard"
admin.site.index_template = "admin/ipresmgr_index.html"
# The apps are a click away on the dashboard; the sidebar's 300 px are worth more to the tables.
admin.site.enable_nav_sidebar = False
