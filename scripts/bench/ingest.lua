-- wrk script: signed push payloads for N repositories (PAYLOAD_DIR/push-<n>.json + .sig),
-- each request with a fresh X-GitHub-Delivery so that every one is a new delivery.
local dir = os.getenv("PAYLOAD_DIR")
local repos = tonumber(os.getenv("REPOS") or "16")
local run = os.getenv("RUN_ID") or tostring(os.time())

local bodies, sigs = {}, {}
for n = 0, repos - 1 do
  local f = assert(io.open(dir .. "/push-" .. n .. ".json", "rb")); bodies[n] = f:read("*a"); f:close()
  local s = assert(io.open(dir .. "/push-" .. n .. ".sig", "rb")); sigs[n] = s:read("*a"); s:close()
end

local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end

local counter = 0
function request()
  counter = counter + 1
  local n = counter % repos
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = run .. "-" .. tid .. "-" .. counter,
    ["X-Hub-Signature-256"] = sigs[n],
  }
  return wrk.format("POST", "/webhook", headers, bodies[n])
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("requests: %d, non-2xx or socket errors: %d\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("latency p%s: %.2f ms\n", p, latency:percentile(p) / 1000))
  end
end
