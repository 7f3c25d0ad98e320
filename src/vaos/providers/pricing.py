"""Cost of a call in USD from ``genai-prices`` (its bundled, offline data; never updated
over the network). Free providers cost 0; a model the data does not know costs None.
"""

from __future__ import annotations

import logging
import warnings
from decimal import Decimal
from functools import lru_cache

from vaos.providers.catalog import get_catalog
from vaos.providers.types import Usage

logger = logging.getLogger(__name__)
ZERO = Decimal(0)


def cost_usd(provider: str, model: str, usage: Usage) -> Decimal | None:
    """The price of ``usage`` on ``provider``'s ``model``; None when unknown."""
    spec = get_catalog().providers.get(provider)
    if spec is not None and spec.free:
        return ZERO
    if usage.input_tokens == 0 and usage.output_tokens == 0:
        return ZERO
    prices_id = spec.prices_id if spec is not None else None
    if prices_id is None and spec is not None:
        return None
    return _calc(
        prices_id,
        model,
        usage.input_tokens,
        usage.output_tokens,
        usage.cache_read_tokens,
        usage.cache_write_tokens,
    )


@lru_cache(maxsize=4096)
def _calc(
    prices_id: str | None, model: str, inp: int, out: int, cache_read: int, cache_write: int
) -> Decimal | None:
    try:
        from genai_prices import Usage as PriceUsage
        from genai_prices import calc_price

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            usage = PriceUsage(
                input_tokens=inp,
                output_tokens=out,
                cache_read_tokens=cache_read or None,
                cache_write_tokens=cache_write or None,
            )
            result = calc_price(usage, model, provider_id=prices_id)
    except LookupError:
        return None
    except Exception as exc:  # the price data is a convenience; never fail a call on it
        logger.debug("no price for %s/%s: %r", prices_id, model, exc)
        return None
    return Decimal(result.total_price)


def price_known(provider: str, model: str) -> bool:
    """Whether a cost can be computed for this provider and model."""
    return cost_usd(provider, model, Usage(1000, 1000)) is not None
