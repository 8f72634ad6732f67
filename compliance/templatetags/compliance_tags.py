from django import template

from smsportal.numbers import mask

register = template.Library()


@register.filter
def shown_number(number: str, full: bool = False) -> str:
    """The full number for roles allowed to see it (the view audit-logs that), masked otherwise."""
    return number if full else mask(number)
