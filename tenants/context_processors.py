from tenants.roles import role_allows


class _Can:
    """`{% if can.templates_edit %}` in HTML templates: the same role table as the views."""

    def __init__(self, role):
        self.role = role

    def __getattr__(self, name):
        return role_allows(self.role, name.replace("_", ".", 1))


def tenancy(request):
    membership = getattr(request, "membership", None)
    return {
        "current_tenant": getattr(request, "tenant", None),
        "current_membership": membership,
        "user_memberships": getattr(request, "memberships", []),
        "can": _Can(membership.role if membership else None),
    }
