-- wrk script: POST /v1/decide for a random stored person per request (placement onsite).
-- CANDOR_IDS names a file of subject ids (one per line); CANDOR_KEY is a secret key whose team holds `offers`.
-- Every request is formatted once, at start: the hello-world route it is compared with runs without a
-- script, so the load generator's own work per request (which shares the machine with the server)
-- stays as small as it can be for both.
local requests = {}
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("CANDOR_KEY") }
for id in io.lines(os.getenv("CANDOR_IDS")) do
  requests[#requests + 1] = wrk.format("POST", "/v1/decide", headers,
    '{"subject_id":"' .. id .. '","placement":"onsite","context":{"page":"/shoes","locale":"en"}}')
end

request = function()
  return requests[math.random(#requests)]
end
