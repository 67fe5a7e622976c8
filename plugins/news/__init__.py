"""News: posts and pop-up messages for members and admins."""
