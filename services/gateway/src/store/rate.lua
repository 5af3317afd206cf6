-- GCRA for one caller (KEYS[1]): ARGV[1] the interval one call takes up and
-- ARGV[2] how far ahead of now the next call may be booked, in microseconds.
-- Returns 0 when the call is admitted, else the microseconds to wait. Time
-- is the Redis server's, so that every gateway replica shares one clock.
-- The same rule as Gcra::admit in domain/rate.rs.
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local due = tonumber(redis.call('GET', KEYS[1]) or now)
if due < now then
  due = now
end
local wait = due - tolerance - now
if wait > 0 then
  return wait
end
local next_due = due + interval
redis.call('SET', KEYS[1], next_due, 'PX', math.ceil((next_due - now) / 1000) + 1)
return 0
