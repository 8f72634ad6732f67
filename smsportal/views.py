from django.db import connection
from django.http import JsonResponse
from django.shortcuts import redirect, render


def home(request):
    if not request.user.is_authenticated:
        return render(request, "smsportal/landing.html")
    if request.tenant is None:
        if request.user.is_staff:
            return redirect("staff:tenants")
        return redirect("tenants:create")
    if not request.tenant.is_active:
        return render(request, "tenants/suspended.html", {"tenant": request.tenant}, status=403)
    from allauth.mfa.models import Authenticator

    has_two_factor = Authenticator.objects.filter(user=request.user, type=Authenticator.Type.TOTP).exists()
    return render(request, "smsportal/home.html", {"has_two_factor": has_two_factor})


def healthz(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
