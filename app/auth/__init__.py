"""Authentication: EverShop-format JWTs, the request guards, admin users."""
