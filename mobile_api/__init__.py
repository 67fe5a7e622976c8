"""The member app: a token-authenticated JSON API under `/api/v1/me/...` and the installable web app
(PWA) at `/app/` that receives Web Push. Plugins feed it through the `mobile_feed` hook with
`mobile_api.FeedItem`s (see `mobile_api.feed`)."""
from mobile_api.feed import FeedItem

__all__ = ["FeedItem"]
