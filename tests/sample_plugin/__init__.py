"""A small plugin used by the core tests: it implements every hook and has routes, a table and a job."""
