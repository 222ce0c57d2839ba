module accelring.local/vaccel-test

go 1.19

require accelring.local/vaccel v0.0.0

replace accelring.local/vaccel => ../../../libclient/go
