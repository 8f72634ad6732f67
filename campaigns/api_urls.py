from django.urls import path

from campaigns import api

urlpatterns = [
    path("contact-lists", api.ContactListsView.as_view(), name="api-campaigns-lists"),
    path("contact-lists/<int:list_id>/imports", api.ContactListUploadView.as_view(), name="api-campaigns-list-upload"),
    path("contact-imports/<int:import_id>", api.ContactImportView.as_view(), name="api-campaigns-import"),
    path("campaigns", api.CampaignsView.as_view(), name="api-campaigns"),
    path("campaigns/<int:campaign_id>", api.CampaignDetailView.as_view(), name="api-campaigns-detail"),
    path("campaigns/<int:campaign_id>/stats", api.CampaignStatsView.as_view(), name="api-campaigns-stats"),
    path("campaigns/<int:campaign_id>/schedule", api.CampaignScheduleView.as_view(), name="api-campaigns-schedule"),
]
for _action in ("review", "start", "pause", "resume", "cancel"):
    urlpatterns.append(
        path(
            f"campaigns/<int:campaign_id>/{_action}",
            api.CampaignActionView.as_view(action_name=_action),
            name=f"api-campaigns-{_action}",
        )
    )
