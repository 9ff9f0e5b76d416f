-- wrk script: POST one declaration to a random demo subject per request.
-- CANDOR_IDS names a file of subject ids (one per line); CANDOR_KEY is a secret key with the write role.
local ids = {}
for line in io.lines(os.getenv("CANDOR_IDS")) do ids[#ids + 1] = line end
local headers = { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("CANDOR_KEY") }

request = function()
  local id = ids[math.random(#ids)]
  local body = '{"values":[{"field":"shoe_size","value":' .. (36 + math.random(0, 10)) ..
    '}],"notices":{"offers":1,"support":1},"source":"api"}'
  return wrk.format("POST", "/v1/subjects/" .. id .. "/declarations", headers, body)
end
