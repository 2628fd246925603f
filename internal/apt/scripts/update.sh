apt-get -o DPkg::Lock::Timeout={{.Seconds}} -q update
