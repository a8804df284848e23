"""Feed declarations. A new feed is one module here plus its tests; generic code needs no edit."""

from feeds import classlink, edreflect, focus_roster, peer, powerschool, renaissance_star, siras
from hub.registry.declarations import Feed

FEEDS: dict[str, Feed] = {f.name: f for f in (siras.FEED, focus_roster.FEED, peer.FEED, classlink.FEED, powerschool.FEED,
                                              renaissance_star.FEED, edreflect.FEED)}
