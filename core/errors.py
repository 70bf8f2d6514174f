"""The one exception services raise to answer a caller with a contract Code."""

from core.choices import HTTP_STATUS_BY_CODE, Code


class ServiceError(Exception):
    """A refusal with a contract Code; the transaction it was raised in is rolled back."""

    def __init__(self, code: Code, msg: str, *, http_status: int | None = None):
        super().__init__(msg)
        self.code = Code(code)
        self.msg = msg
        self.http_status = http_status or HTTP_STATUS_BY_CODE[self.code]
