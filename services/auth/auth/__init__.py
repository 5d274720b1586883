"""auth: checks credentials from a mounted accounts file and issues ES256 JWTs."""
