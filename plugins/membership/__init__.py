"""Membership: seasons, membership types, memberships of people in clubs."""
