-- The seed's schema (Lars base/sql/lars_dns.sql): the table lars-reporter
-- writes.  lars-reporter never changes it.
CREATE DATABASE IF NOT EXISTS `lars_dns` DEFAULT CHARACTER SET utf8;
USE `lars_dns`;

DROP TABLE IF EXISTS `ServerCallStatus`;
CREATE TABLE `ServerCallStatus` (
  `modid` int(11) NOT NULL,
  `cmdid` int(11) NOT NULL,
  `ip` int(11) NOT NULL,
  `port` int(11) NOT NULL,
  `caller` int(11) NOT NULL,
  `succ_cnt` int(11) NOT NULL,
  `err_cnt` int(11) NOT NULL,
  `ts` bigint(20) NOT NULL,
  `overload` char(1) NOT NULL,
  PRIMARY KEY (`modid`,`cmdid`,`ip`,`port`,`caller`),
  KEY `mlb_index` (`modid`,`cmdid`,`ip`,`port`,`caller`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
