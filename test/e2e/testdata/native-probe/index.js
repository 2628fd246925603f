'use strict';
module.exports = require('./build/probe.node');
