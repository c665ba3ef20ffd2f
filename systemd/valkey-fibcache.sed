# fibcache's own instance under Valkey (Debian 13's valkey-server@.service), made from the
# Redis one: `sed -f valkey-fibcache.sed redis-fibcache.conf` gives /etc/valkey/valkey-fibcache.conf
# (make install; debian/rules at build time). Only names and paths change: Valkey reads
# Redis' configuration as it is.
1i\
# Made from fibcache's redis-fibcache.conf for Valkey: valkey-server@fibcache.service.
s|/run/redis-fibcache/redis-server\.|/run/valkey-fibcache/valkey-server.|g
s|/etc/redis/redis-fibcache|/etc/valkey/valkey-fibcache|g
s|/etc/redis/redis\.conf|/etc/valkey/valkey.conf|g
s|/var/lib/redis|/var/lib/valkey|g
s|redis-server@|valkey-server@|g
s|redis-server\.service|valkey-server.service|g
s|redis-cli|valkey-cli|g
s|Redis (user and group redis)|Valkey (user and group valkey)|g
s|SupplementaryGroups=redis|SupplementaryGroups=valkey|g
s|the host Redis'|the host Valkey's|g
s|^# fibcache's own Redis:|# fibcache's own Valkey:|
s|The host's own Redis$|The host's own Valkey|
