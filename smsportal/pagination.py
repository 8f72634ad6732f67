from rest_framework.pagination import CursorPagination


class IdCursorPagination(CursorPagination):
    """Newest first by id: stable under concurrent inserts, and every table has an id."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
