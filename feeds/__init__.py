"""Feed declarations. A new feed is one module here plus its tests; generic code needs no edit."""

from hub.declarations import Feed
from feeds import edreflect, siras

FEEDS: dict[str, Feed] = {f.name: f for f in (siras.FEED, edreflect.FEED)}
