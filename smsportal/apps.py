from django.apps import AppConfig


class SmsportalConfig(AppConfig):
    name = "smsportal"
