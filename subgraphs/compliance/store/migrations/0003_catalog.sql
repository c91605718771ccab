-- The framework catalog (reference data shared by every organization).
-- Ids are md5-derived UUIDs of 'framework:<key>' and 'requirement:<key>:<code>'
-- (store.FrameworkID, store.RequirementID compute the same in Go), so they are
-- the same in every database.
--
-- SOC 2: the AICPA 2017 Trust Services Criteria (with the 2022 revised points
-- of focus; the criteria are unchanged), all nine series of common criteria
-- CC1-CC9, which are the whole of the Security category. The criteria have no
-- short titles: the title is the criterion as the AICPA words it.
-- ISO/IEC 27001:2022: a subset of the Annex A controls (28 of 93) with their
-- titles as the standard gives them.
INSERT INTO frameworks (id, key, name, version, description) VALUES
  (md5('framework:SOC2')::uuid, 'SOC2', 'SOC 2', '2017',
   'AICPA 2017 Trust Services Criteria for Security, Availability, Processing Integrity, Confidentiality, and Privacy (revised points of focus 2022): the common criteria CC1-CC9 (Security).'),
  (md5('framework:ISO27001')::uuid, 'ISO27001', 'ISO/IEC 27001', '2022',
   'ISO/IEC 27001:2022 Information security, cybersecurity and privacy protection - Information security management systems - Requirements: Annex A information security controls (a subset).');

INSERT INTO requirements (id, framework_id, code, title, position) VALUES
  (md5('requirement:SOC2:CC1.1')::uuid, md5('framework:SOC2')::uuid, 'CC1.1', 'COSO Principle 1: The entity demonstrates a commitment to integrity and ethical values.', 1),
  (md5('requirement:SOC2:CC1.2')::uuid, md5('framework:SOC2')::uuid, 'CC1.2', 'COSO Principle 2: The board of directors demonstrates independence from management and exercises oversight of the development and performance of internal control.', 2),
  (md5('requirement:SOC2:CC1.3')::uuid, md5('framework:SOC2')::uuid, 'CC1.3', 'COSO Principle 3: Management establishes, with board oversight, structures, reporting lines, and appropriate authorities and responsibilities in the pursuit of objectives.', 3),
  (md5('requirement:SOC2:CC1.4')::uuid, md5('framework:SOC2')::uuid, 'CC1.4', 'COSO Principle 4: The entity demonstrates a commitment to attract, develop, and retain competent individuals in alignment with objectives.', 4),
  (md5('requirement:SOC2:CC1.5')::uuid, md5('framework:SOC2')::uuid, 'CC1.5', 'COSO Principle 5: The entity holds individuals accountable for their internal control responsibilities in the pursuit of objectives.', 5),
  (md5('requirement:SOC2:CC2.1')::uuid, md5('framework:SOC2')::uuid, 'CC2.1', 'COSO Principle 13: The entity obtains or generates and uses relevant, quality information to support the functioning of internal control.', 6),
  (md5('requirement:SOC2:CC2.2')::uuid, md5('framework:SOC2')::uuid, 'CC2.2', 'COSO Principle 14: The entity internally communicates information, including objectives and responsibilities for internal control, necessary to support the functioning of internal control.', 7),
  (md5('requirement:SOC2:CC2.3')::uuid, md5('framework:SOC2')::uuid, 'CC2.3', 'COSO Principle 15: The entity communicates with external parties regarding matters affecting the functioning of internal control.', 8),
  (md5('requirement:SOC2:CC3.1')::uuid, md5('framework:SOC2')::uuid, 'CC3.1', 'COSO Principle 6: The entity specifies objectives with sufficient clarity to enable the identification and assessment of risks relating to objectives.', 9),
  (md5('requirement:SOC2:CC3.2')::uuid, md5('framework:SOC2')::uuid, 'CC3.2', 'COSO Principle 7: The entity identifies risks to the achievement of its objectives across the entity and analyzes risks as a basis for determining how the risks should be managed.', 10),
  (md5('requirement:SOC2:CC3.3')::uuid, md5('framework:SOC2')::uuid, 'CC3.3', 'COSO Principle 8: The entity considers the potential for fraud in assessing risks to the achievement of objectives.', 11),
  (md5('requirement:SOC2:CC3.4')::uuid, md5('framework:SOC2')::uuid, 'CC3.4', 'COSO Principle 9: The entity identifies and assesses changes that could significantly impact the system of internal control.', 12),
  (md5('requirement:SOC2:CC4.1')::uuid, md5('framework:SOC2')::uuid, 'CC4.1', 'COSO Principle 16: The entity selects, develops, and performs ongoing and/or separate evaluations to ascertain whether the components of internal control are present and functioning.', 13),
  (md5('requirement:SOC2:CC4.2')::uuid, md5('framework:SOC2')::uuid, 'CC4.2', 'COSO Principle 17: The entity evaluates and communicates internal control deficiencies in a timely manner to those parties responsible for taking corrective action, including senior management and the board of directors, as appropriate.', 14),
  (md5('requirement:SOC2:CC5.1')::uuid, md5('framework:SOC2')::uuid, 'CC5.1', 'COSO Principle 10: The entity selects and develops control activities that contribute to the mitigation of risks to the achievement of objectives to acceptable levels.', 15),
  (md5('requirement:SOC2:CC5.2')::uuid, md5('framework:SOC2')::uuid, 'CC5.2', 'COSO Principle 11: The entity also selects and develops general control activities over technology to support the achievement of objectives.', 16),
  (md5('requirement:SOC2:CC5.3')::uuid, md5('framework:SOC2')::uuid, 'CC5.3', 'COSO Principle 12: The entity deploys control activities through policies that establish what is expected and in procedures that put policies into action.', 17),
  (md5('requirement:SOC2:CC6.1')::uuid, md5('framework:SOC2')::uuid, 'CC6.1', 'The entity implements logical access security software, infrastructure, and architectures over protected information assets to protect them from security events to meet the entity''s objectives.', 18),
  (md5('requirement:SOC2:CC6.2')::uuid, md5('framework:SOC2')::uuid, 'CC6.2', 'Prior to issuing system credentials and granting system access, the entity registers and authorizes new internal and external users whose access is administered by the entity. For those users whose access is administered by the entity, user system credentials are removed when user access is no longer authorized.', 19),
  (md5('requirement:SOC2:CC6.3')::uuid, md5('framework:SOC2')::uuid, 'CC6.3', 'The entity authorizes, modifies, or removes access to data, software, functions, and other protected information assets based on roles, responsibilities, or the system design and changes, giving consideration to the concepts of least privilege and segregation of duties, to meet the entity''s objectives.', 20),
  (md5('requirement:SOC2:CC6.4')::uuid, md5('framework:SOC2')::uuid, 'CC6.4', 'The entity restricts physical access to facilities and protected information assets (for example, data center facilities, back-up media storage, and other sensitive locations) to authorized personnel to meet the entity''s objectives.', 21),
  (md5('requirement:SOC2:CC6.5')::uuid, md5('framework:SOC2')::uuid, 'CC6.5', 'The entity discontinues logical and physical protections over physical assets only after the ability to read or recover data and software from those assets has been diminished and is no longer required to meet the entity''s objectives.', 22),
  (md5('requirement:SOC2:CC6.6')::uuid, md5('framework:SOC2')::uuid, 'CC6.6', 'The entity implements logical access security measures to protect against threats from sources outside its system boundaries.', 23),
  (md5('requirement:SOC2:CC6.7')::uuid, md5('framework:SOC2')::uuid, 'CC6.7', 'The entity restricts the transmission, movement, and removal of information to authorized internal and external users and processes, and protects it during transmission, movement, or removal to meet the entity''s objectives.', 24),
  (md5('requirement:SOC2:CC6.8')::uuid, md5('framework:SOC2')::uuid, 'CC6.8', 'The entity implements controls to prevent or detect and act upon the introduction of unauthorized or malicious software to meet the entity''s objectives.', 25),
  (md5('requirement:SOC2:CC7.1')::uuid, md5('framework:SOC2')::uuid, 'CC7.1', 'To meet its objectives, the entity uses detection and monitoring procedures to identify (1) changes to configurations that result in the introduction of new vulnerabilities, and (2) susceptibilities to newly discovered vulnerabilities.', 26),
  (md5('requirement:SOC2:CC7.2')::uuid, md5('framework:SOC2')::uuid, 'CC7.2', 'The entity monitors system components and the operation of those components for anomalies that are indicative of malicious acts, natural disasters, and errors affecting the entity''s ability to meet its objectives; anomalies are analyzed to determine whether they represent security events.', 27),
  (md5('requirement:SOC2:CC7.3')::uuid, md5('framework:SOC2')::uuid, 'CC7.3', 'The entity evaluates security events to determine whether they could or have resulted in a failure of the entity to meet its objectives (security incidents) and, if so, takes actions to prevent or address such failures.', 28),
  (md5('requirement:SOC2:CC7.4')::uuid, md5('framework:SOC2')::uuid, 'CC7.4', 'The entity responds to identified security incidents by executing a defined incident response program to understand, contain, remediate, and communicate security incidents, as appropriate.', 29),
  (md5('requirement:SOC2:CC7.5')::uuid, md5('framework:SOC2')::uuid, 'CC7.5', 'The entity identifies, develops, and implements activities to recover from identified security incidents.', 30),
  (md5('requirement:SOC2:CC8.1')::uuid, md5('framework:SOC2')::uuid, 'CC8.1', 'The entity authorizes, designs, develops or acquires, configures, documents, tests, approves, and implements changes to infrastructure, data, software, and procedures to meet its objectives.', 31),
  (md5('requirement:SOC2:CC9.1')::uuid, md5('framework:SOC2')::uuid, 'CC9.1', 'The entity identifies, selects, and develops risk mitigation activities for risks arising from potential business disruptions.', 32),
  (md5('requirement:SOC2:CC9.2')::uuid, md5('framework:SOC2')::uuid, 'CC9.2', 'The entity assesses and manages risks associated with vendors and business partners.', 33);

INSERT INTO requirements (id, framework_id, code, title, position) VALUES
  (md5('requirement:ISO27001:A.5.1')::uuid, md5('framework:ISO27001')::uuid, 'A.5.1', 'Policies for information security', 1),
  (md5('requirement:ISO27001:A.5.2')::uuid, md5('framework:ISO27001')::uuid, 'A.5.2', 'Information security roles and responsibilities', 2),
  (md5('requirement:ISO27001:A.5.3')::uuid, md5('framework:ISO27001')::uuid, 'A.5.3', 'Segregation of duties', 3),
  (md5('requirement:ISO27001:A.5.7')::uuid, md5('framework:ISO27001')::uuid, 'A.5.7', 'Threat intelligence', 4),
  (md5('requirement:ISO27001:A.5.9')::uuid, md5('framework:ISO27001')::uuid, 'A.5.9', 'Inventory of information and other associated assets', 5),
  (md5('requirement:ISO27001:A.5.15')::uuid, md5('framework:ISO27001')::uuid, 'A.5.15', 'Access control', 6),
  (md5('requirement:ISO27001:A.5.16')::uuid, md5('framework:ISO27001')::uuid, 'A.5.16', 'Identity management', 7),
  (md5('requirement:ISO27001:A.5.17')::uuid, md5('framework:ISO27001')::uuid, 'A.5.17', 'Authentication information', 8),
  (md5('requirement:ISO27001:A.5.18')::uuid, md5('framework:ISO27001')::uuid, 'A.5.18', 'Access rights', 9),
  (md5('requirement:ISO27001:A.5.19')::uuid, md5('framework:ISO27001')::uuid, 'A.5.19', 'Information security in supplier relationships', 10),
  (md5('requirement:ISO27001:A.5.23')::uuid, md5('framework:ISO27001')::uuid, 'A.5.23', 'Information security for use of cloud services', 11),
  (md5('requirement:ISO27001:A.5.24')::uuid, md5('framework:ISO27001')::uuid, 'A.5.24', 'Information security incident management planning and preparation', 12),
  (md5('requirement:ISO27001:A.5.26')::uuid, md5('framework:ISO27001')::uuid, 'A.5.26', 'Response to information security incidents', 13),
  (md5('requirement:ISO27001:A.5.29')::uuid, md5('framework:ISO27001')::uuid, 'A.5.29', 'Information security during disruption', 14),
  (md5('requirement:ISO27001:A.5.30')::uuid, md5('framework:ISO27001')::uuid, 'A.5.30', 'ICT readiness for business continuity', 15),
  (md5('requirement:ISO27001:A.6.3')::uuid, md5('framework:ISO27001')::uuid, 'A.6.3', 'Information security awareness, education and training', 16),
  (md5('requirement:ISO27001:A.7.2')::uuid, md5('framework:ISO27001')::uuid, 'A.7.2', 'Physical entry', 17),
  (md5('requirement:ISO27001:A.8.2')::uuid, md5('framework:ISO27001')::uuid, 'A.8.2', 'Privileged access rights', 18),
  (md5('requirement:ISO27001:A.8.5')::uuid, md5('framework:ISO27001')::uuid, 'A.8.5', 'Secure authentication', 19),
  (md5('requirement:ISO27001:A.8.7')::uuid, md5('framework:ISO27001')::uuid, 'A.8.7', 'Protection against malware', 20),
  (md5('requirement:ISO27001:A.8.8')::uuid, md5('framework:ISO27001')::uuid, 'A.8.8', 'Management of technical vulnerabilities', 21),
  (md5('requirement:ISO27001:A.8.9')::uuid, md5('framework:ISO27001')::uuid, 'A.8.9', 'Configuration management', 22),
  (md5('requirement:ISO27001:A.8.13')::uuid, md5('framework:ISO27001')::uuid, 'A.8.13', 'Information backup', 23),
  (md5('requirement:ISO27001:A.8.15')::uuid, md5('framework:ISO27001')::uuid, 'A.8.15', 'Logging', 24),
  (md5('requirement:ISO27001:A.8.16')::uuid, md5('framework:ISO27001')::uuid, 'A.8.16', 'Monitoring activities', 25),
  (md5('requirement:ISO27001:A.8.24')::uuid, md5('framework:ISO27001')::uuid, 'A.8.24', 'Use of cryptography', 26),
  (md5('requirement:ISO27001:A.8.25')::uuid, md5('framework:ISO27001')::uuid, 'A.8.25', 'Secure development life cycle', 27),
  (md5('requirement:ISO27001:A.8.32')::uuid, md5('framework:ISO27001')::uuid, 'A.8.32', 'Change management', 28);
