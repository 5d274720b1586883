"""web: the Todo UI and JSON API; verifies auth's JWTs; stores todos in GridDB."""
