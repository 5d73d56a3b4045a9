"""Pure pricing: rate plans priced exactly, fixed amounts, proration, true-ups (cycle math in `cycles`).

No session, no ORM, no clock: everything comes in as arguments and goes out as frozen values.
"""

from meterline.rating.amounts import fixed_amount, prorate, true_up
from meterline.rating.checks import check_rate_plan
from meterline.rating.engine import price, price_days
from meterline.rating.model import Priced, RatePlan, RatingError, Slab, SlabRevenue

__all__ = [
    "Priced",
    "RatePlan",
    "RatingError",
    "Slab",
    "SlabRevenue",
    "check_rate_plan",
    "fixed_amount",
    "price",
    "price_days",
    "prorate",
    "true_up",
]
