module accelring.local/vaccel

go 1.19
