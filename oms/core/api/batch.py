"""One item of a batch: its own savepoint, its own result, whatever its input holds."""

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import DataError, transaction

from oms.core.errors import OmsError, ValidationFailed

logger = logging.getLogger(__name__)
T = TypeVar("T")


def run_item(work: Callable[[], T]) -> T | OmsError:
    """``work()`` in a savepoint; its refusal as an ``OmsError`` instead of raising.

    Besides the services' own errors, a value the database cannot hold (too long, out
    of the column's range) and arithmetic on an absurd value are the item's input
    errors: the item changes nothing and the batch goes on with the next one.
    """
    try:
        with transaction.atomic():
            return work()
    except OmsError as exc:
        return exc
    except (DataError, ArithmeticError) as exc:
        logger.warning("batch item refused: %s", exc, exc_info=True)
        return ValidationFailed(
            "A value does not fit (too long or out of range).",
            reason=str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__,
        )
