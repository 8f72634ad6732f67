from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from tenants.permissions import HasApiKey


class TenantSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    slug = serializers.CharField()
    timezone = serializers.CharField()
    status = serializers.CharField()


class ApiKeyInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    prefix = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())


class MeSerializer(serializers.Serializer):
    tenant = TenantSerializer()
    key = ApiKeyInfoSerializer()


class MeView(APIView):
    """The tenant and key behind the API key used for this call."""

    permission_classes = [HasApiKey]  # any valid key, whatever its scopes

    @extend_schema(responses=MeSerializer, summary="Who am I")
    def get(self, request):
        client = request.user
        return Response(MeSerializer({"tenant": client.tenant, "key": client.key}).data)
