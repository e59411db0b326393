"""faasctl: the admin command line of the platform."""
