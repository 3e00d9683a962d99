"""Django settings for Debian's Horizon (openstack-dashboard) pointed at a novadock.

Used by scripts/horizon.sh as DJANGO_SETTINGS_MODULE. Nothing of Debian's is copied or changed:
this imports Debian's settings as they are (which read /etc/openstack-dashboard/local_settings.py
and its local_settings.d, e.g. COMPRESS_OFFLINE = True with the bundles Debian compressed under
/var/lib/openstack-dashboard/static) and overrides only what pointing at novadock needs.
Values come from the environment scripts/horizon.sh sets.
"""
import os
import secrets

from openstack_dashboard.settings import *  # noqa: F401,F403

_KEYSTONE = os.environ['NOVADOCK_HORIZON_KEYSTONE_URL']

OPENSTACK_KEYSTONE_URL = _KEYSTONE
# Compute is Nova v2.1; Horizon names it 2 (its list of choices is 2 and 1.1) and negotiates the
# microversions it needs.
OPENSTACK_API_VERSIONS = {'identity': 3, 'image': 2, 'compute': 2}
OPENSTACK_KEYSTONE_DEFAULT_DOMAIN = 'Default'
OPENSTACK_KEYSTONE_DEFAULT_ROLE = 'member'
# The catalog's public URLs are the ones novadock advertises (its NOVADOCK_PUBLIC_URL).
OPENSTACK_ENDPOINT_TYPE = 'publicURL'
OPENSTACK_SSL_NO_VERIFY = True

DEBUG = False
ALLOWED_HOSTS = ['127.0.0.1', 'localhost', '[::1]']

# Sessions and cache in this process's memory: no memcached, no database, nothing left behind.
SESSION_ENGINE = 'django.contrib.sessions.backends.cache'
CACHES = {'default': {'BACKEND': 'django.core.cache.backends.locmem.LocMemCache'}}
# A fresh key per run (Debian's key file is root's); sessions end with the process anyway.
SECRET_KEY = os.environ.get('NOVADOCK_HORIZON_SECRET_KEY') or secrets.token_hex(32)

# Logs: warnings and up on stderr (Debian's logging sends every client request at DEBUG).
LOGGING = {
    'version': 1,
    'disable_existing_loggers': False,
    'handlers': {'console': {'class': 'logging.StreamHandler', 'level': 'DEBUG'}},
    'root': {'handlers': ['console'], 'level': os.environ.get('NOVADOCK_HORIZON_LOG_LEVEL', 'WARNING')},
}
