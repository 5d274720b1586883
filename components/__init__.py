"""ComponentResources of griddb-todo and the typed stack settings they are built from."""
