"""Header lines of real Renaissance Star exports (reference/star_headers/, from PS-ETL scrubbed samples):
v2 SM/SEL with 118 columns, SR with 126, the 2021-22 SR layout that stops at CurrentSGP (120 columns), and the
80-column Historical Enterprise UI export with spaced headers and no AssessmentID."""

COMMON = (
    "RenaissanceClientID,SchoolYear,SchoolYearStartDate,SchoolYearEndDate,StudentRenaissanceID,StudentSourcedID,StudentId"
    "entifier,StudentUserID,StudentStateID,StudentEmail,StudentFirstName,StudentMiddleName,StudentLastName,Gender,BirthDa"
    "te,MultiRace,HispanicOrLatino,AmericanIndianOrAlaskaNative,Asian,BlackOrAfricanAmerican,NativeHawaiianOrOtherPacific"
    "Islander,White,CurrentGrade,EnrollmentStatus,DistrictRenaissanceID,DistrictSourcedID,DistrictIdentifier,DistrictStat"
    "eID,DistrictName,SchoolRenaissanceID,SchoolSourcedID,SchoolIdentifier,SchoolStateID,SchoolName,CourseRenaissanceID,C"
    "ourseSourcedID,CourseCode,CourseName,ClassRenaissanceID,ClassSourcedID,ClassCode,GroupID,GroupOrClassName,TeacherRen"
    "aissanceID,TeacherSourcedID,TeacherIdentifier,TeacherUserID,TeacherStateID,TeacherEmail,TeacherFirstName,TeacherMidd"
    "leName,TeacherLastName,AssessmentID,LaunchDate,CompletedDate,CompletedDateLocal,AssessmentNumber,AssessmentType,Asse"
    "ssmentStatus,DeactivationReason,GradePlacement,Grade,ExtraTime"
).split(",")

SM_TAIL = (
    "Audio,ScaledScore,StandardErrorOfMeasurement,RaschScore,UnifiedScore,PartnershipForAssessmentOfReadinessForCollegeAn"
    "dCareers,SmarterBalancedAssessmentConsortium,OpenGrowthScore,GradeEquivalent,PercentileRank,NormalCurveEquivalent,To"
    "talTimeInSeconds,TotalCorrect,TotalPossible,StudentGrowthPercentileFallFall,StudentGrowthPercentileFallSpring,Studen"
    "tGrowthPercentileFallWinter,StudentGrowthPercentileSpringFall,StudentGrowthPercentileSpringSpring,StudentGrowthPerce"
    "ntileWinterSpring,ScreeningPeriodWindowName,ScreeningWindowStartDate,ScreeningWindowEndDate,RenaissanceBenchmarkCate"
    "goryName,RenaissanceBenchmarkCategoryLevel,RenaissanceBenchmarkCategoryNumberOfLevels,RenaissanceBenchmarkCategoryMi"
    "nPercentileRank,RenaissanceBenchmarkCategoryMaxPercentileRank,StateBenchmarkAssessmentName,StateBenchmarkCategoryNam"
    "e,StateBenchmarkProficient,StateBenchmarkCategoryLevel,StateBenchmarkNumberOfCategoryLevels,StateBenchmarkMinScaledS"
    "core,StateBenchmarkMaxScaledScore,DistrictBenchmarkCategoryName,DistrictBenchmarkProficient,DistrictBenchmarkCategor"
    "yLevel,DistrictBenchmarkNumberOfCategoryLevels,DistrictBenchmarkMinPercentileRank,DistrictBenchmarkMaxPercentileRank"
    ",SchoolBenchmarkCategoryName,SchoolBenchmarkProficient,SchoolBenchmarkCategoryLevel,SchoolBenchmarkNumberOfCategoryL"
    "evels,SchoolBenchmarkMinPercentileRank,SchoolBenchmarkMaxPercentileRank,CurrentSGP,Quantile,TakenAt,TakenAtByIPAddre"
    "ss,StudentDisplayID,TeacherDisplayID,SATBenchmarkCategory,ACTBenchmarkCategory"
).split(",")

SR_TAIL = (
    "ScaledScore,StandardErrorOfMeasurement,RaschScore,UnifiedScore,PartnershipForAssessmentOfReadinessForCollegeAndCaree"
    "rs,SmarterBalancedAssessmentConsortium,OpenGrowthScore,GradeEquivalent,PercentileRank,NormalCurveEquivalent,Instruct"
    "ionalReadingLevel,EstimatedOralReadingFluency,LowerZoneOfProximalDevelopment,UpperZoneOfProximalDevelopment,Lexile,L"
    "owerLexileZoneOfProximalDevelopment,UpperLexileZoneOfProximalDevelopment,TotalTimeInSeconds,TotalCorrect,TotalPossib"
    "le,Grade3_AssessmentAttempts,Grade3_PassingStatus,Grade3_PassingScore,StudentGrowthPercentileFallFall,StudentGrowthP"
    "ercentileFallSpring,StudentGrowthPercentileFallWinter,StudentGrowthPercentileSpringFall,StudentGrowthPercentileSprin"
    "gSpring,StudentGrowthPercentileWinterSpring,ScreeningPeriodWindowName,ScreeningWindowStartDate,ScreeningWindowEndDat"
    "e,RenaissanceBenchmarkCategoryName,RenaissanceBenchmarkCategoryLevel,RenaissanceBenchmarkCategoryNumberOfLevels,Rena"
    "issanceBenchmarkCategoryMinPercentileRank,RenaissanceBenchmarkCategoryMaxPercentileRank,StateBenchmarkAssessmentName"
    ",StateBenchmarkCategoryName,StateBenchmarkProficient,StateBenchmarkCategoryLevel,StateBenchmarkNumberOfCategoryLevel"
    "s,StateBenchmarkMinScaledScore,StateBenchmarkMaxScaledScore,DistrictBenchmarkCategoryName,DistrictBenchmarkProficien"
    "t,DistrictBenchmarkCategoryLevel,DistrictBenchmarkNumberOfCategoryLevels,DistrictBenchmarkMinPercentileRank,District"
    "BenchmarkMaxPercentileRank,SchoolBenchmarkCategoryName,SchoolBenchmarkProficient,SchoolBenchmarkCategoryLevel,School"
    "BenchmarkNumberOfCategoryLevels,SchoolBenchmarkMinPercentileRank,SchoolBenchmarkMaxPercentileRank,CurrentSGP,TakenAt"
    ",TakenAtByIPAddress,StudentDisplayID,TeacherDisplayID,SATBenchmarkCategory,ACTBenchmarkCategory"
).split(",")

SEL_TAIL = (
    "ScaledScore,StandardErrorOfMeasurement,RaschScore,UnifiedScore,PartnershipForAssessmentOfReadinessForCollegeAndCaree"
    "rs,SmarterBalancedAssessmentConsortium,OpenGrowthScore,GradeEquivalent,PercentileRank,NormalCurveEquivalent,Estimate"
    "dOralReadingFluency,LiteracyClassification,TotalTimeInSeconds,TotalCorrect,TotalPossible,StudentGrowthPercentileFall"
    "Fall,StudentGrowthPercentileFallSpring,StudentGrowthPercentileFallWinter,StudentGrowthPercentileSpringFall,StudentGr"
    "owthPercentileSpringSpring,StudentGrowthPercentileWinterSpring,ScreeningPeriodWindowName,ScreeningWindowStartDate,Sc"
    "reeningWindowEndDate,RenaissanceBenchmarkCategoryName,RenaissanceBenchmarkCategoryLevel,RenaissanceBenchmarkCategory"
    "NumberOfLevels,RenaissanceBenchmarkCategoryMinPercentileRank,RenaissanceBenchmarkCategoryMaxPercentileRank,StateBenc"
    "hmarkAssessmentName,StateBenchmarkCategoryName,StateBenchmarkProficient,StateBenchmarkCategoryLevel,StateBenchmarkNu"
    "mberOfCategoryLevels,StateBenchmarkMinScaledScore,StateBenchmarkMaxScaledScore,DistrictBenchmarkCategoryName,Distric"
    "tBenchmarkProficient,DistrictBenchmarkCategoryLevel,DistrictBenchmarkNumberOfCategoryLevels,DistrictBenchmarkMinPerc"
    "entileRank,DistrictBenchmarkMaxPercentileRank,SchoolBenchmarkCategoryName,SchoolBenchmarkProficient,SchoolBenchmarkC"
    "ategoryLevel,SchoolBenchmarkNumberOfCategoryLevels,SchoolBenchmarkMinPercentileRank,SchoolBenchmarkMaxPercentileRank"
    ",CurrentSGP,TakenAt,TakenAtByIPAddress,StudentDisplayID,TeacherDisplayID,Lexile,LexileRange"
).split(",")

SM_V2, SR_V2, SEL_V2 = COMMON + SM_TAIL, COMMON + SR_TAIL, COMMON + SEL_TAIL
SR_2021_22 = SR_V2[:SR_V2.index("CurrentSGP") + 1]

HISTORICAL_ENTERPRISE = (
    "Renaissance Client ID,School Year,School Year Start Date,School Year End Date,District State Id,District Name,Dis"
    "trict Id,School State Id,School Name,School Id,Teacher State ID,Teacher Identifier,Teacher User Name,Teacher Emai"
    "l,Teacher First Name,Teacher Middle Name,Teacher Last Name,Student State ID,Student Identifier,Student User Name,"
    "Student Email,Student First Name,Student Middle Name,Student Last Name,Birthdate,Current Grade,Class Name,Renaiss"
    "ance Activity ID,Activity Type,Activity Completed Date,Used Extended Time,Used Audio,Scaled Score,Unified Scale,L"
    "exile Score,Lexile Range,Quantile Measure,Quantile Range,Percentile Rank,Normal Curve Equivalent,Grade Equivalent"
    ",ZPD Range,EstORF,Literacy Classification,Screening Window Name,Screening Window Start,Screening Window End,Instr"
    "uctional Reading Level,School Benchmark Category,State Benchmark Category,District Benchmark Category,Moderate Gr"
    "owth Rate in SS Per Week,Ambitious Growth Rate in SS Per Week,Maintain PR Growth Rate In SS Per Week,Projected SS"
    " Moderate,Projected SS Ambitious,Projected SS To Maintain PR,Current SGP Vector,Current SGP,Current,Window,SGP Te"
    "st Types,Window SGP Prior Test 1 Date,Window SGP Prior Test 1 Scaled Score,Window SGP Prior Test 2 Date,Window SG"
    "P Prior Test 2 Scaled Score,TakenAt,TakenAtByIPAddress,Quiz Number,Content Language,Content Title,Author,Fiction,"
    "Non-Fiction,ATOS Book Level,Lexile Measure,Questions Presented,Questions Correct,Percent Correct,Word Count"
).split(",")
