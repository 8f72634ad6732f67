from django.urls import path

from tenants import views

app_name = "tenants"

urlpatterns = [
    path("new/", views.tenant_create, name="create"),
    path("switch/", views.tenant_switch, name="switch"),
    path("settings/", views.tenant_settings, name="settings"),
    path("members/", views.member_list, name="members"),
    path("members/invite/", views.member_invite, name="invite"),
    path("members/<int:membership_id>/role/", views.member_change_role, name="member_role"),
    path("members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
    path("api-keys/", views.apikey_list, name="apikeys"),
    path("api-keys/<int:key_id>/rename/", views.apikey_rename, name="apikey_rename"),
    path("api-keys/<int:key_id>/revoke/", views.apikey_revoke, name="apikey_revoke"),
]

staff_urlpatterns = (
    [
        path("tenants/", views.staff_tenant_list, name="tenants"),
        path("tenants/<int:tenant_id>/suspend/", views.staff_tenant_suspend, name="tenant_suspend"),
        path("tenants/<int:tenant_id>/reactivate/", views.staff_tenant_reactivate, name="tenant_reactivate"),
    ],
    "staff",
)
