-- wrk script: POST /v1/decide for a random stored person per request (placement onsite).
-- CANDOR_IDS names a file of subject ids (one per line); CANDOR_KEY is a secret key whose team holds `offers`.
local ids = {}
for line in io.lines(os.getenv("CANDOR_IDS")) do ids[#ids + 1] = line end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("CANDOR_KEY") }

request = function()
  local id = ids[math.random(#ids)]
  return wrk.format("POST", "/v1/decide", headers,
    '{"subject_id":"' .. id .. '","placement":"onsite","context":{"page":"/shoes","locale":"en"}}')
end
